"""The per-resource steps kustomize-controller runs after a build (reference §4).

In order: identity check, SOPS masking (where the controller would decrypt), post-build
substitution, owner labels, normalisation as the server-side apply helpers do it, and
``commonMetadata`` (after substitution, so it is never substituted). Build results are shared
between Kustomizations and clusters, so every resource is copied before it is changed.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fluxfleet.render import secrets
from fluxfleet.render.varsub import (
    Path,
    ScalarMemo,
    SubstitutionError,
    Variables,
    dollar_paths,
    substitute_in_place,
)

OWNER_NAME = "kustomize.toolkit.fluxcd.io/name"
OWNER_NAMESPACE = "kustomize.toolkit.fluxcd.io/namespace"
DECRYPT_KEY = "kustomize.toolkit.fluxcd.io/decrypt"
_POD_TEMPLATE_KINDS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}
)


class ResourceError(Exception):
    pass


def copy_json(node: Any) -> Any:
    """Deep copy of JSON-shaped data (several times faster than ``copy.deepcopy``)."""
    if isinstance(node, dict):
        return {k: copy_json(v) for k, v in node.items()}
    if isinstance(node, list):
        return [copy_json(v) for v in node]
    return node


@dataclass
class Context:
    name: str
    namespace: str
    spec: dict[str, Any]
    variables: Variables | None  # None when spec.postBuild is absent
    strict: bool = True
    owner_keys: tuple[str, str] = (OWNER_NAME, OWNER_NAMESPACE)
    paths_of: Callable[[dict[str, Any]], list[Path] | None] = dollar_paths
    scalars: ScalarMemo = field(default_factory=ScalarMemo)
    sops_secrets: list[str] = field(default_factory=list)
    encrypted_without_decryption: list[str] = field(default_factory=list)


def pod_specs(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every pod spec inside a workload (Pod, controllers, CronJob)."""
    kind = body.get("kind")
    spec = body.get("spec")
    if not isinstance(spec, dict):
        return []
    candidates: list[Any] = []
    if kind == "Pod":
        candidates.append(spec)
    elif kind in _POD_TEMPLATE_KINDS:
        candidates.append((spec.get("template") or {}).get("spec"))
    elif kind == "CronJob":
        job = (spec.get("jobTemplate") or {}).get("spec") or {}
        candidates.append((job.get("template") or {}).get("spec") if isinstance(job, dict) else None)
    return [c for c in candidates if isinstance(c, dict)]


def _missing_protocol(ports: Any) -> bool:
    return isinstance(ports, list) and any(isinstance(p, dict) and not p.get("protocol") for p in ports)


def needs_deep_normalize(body: dict[str, Any]) -> bool:
    """Whether :func:`normalize` would change anything below ``metadata`` and the top level."""
    if body.get("kind") == "Secret":
        return True
    spec = body.get("spec")
    if body.get("kind") == "Service" and isinstance(spec, dict) and _missing_protocol(spec.get("ports")):
        return True
    for pod in pod_specs(body):
        for section in ("containers", "initContainers"):
            for container in pod.get(section) or []:
                if isinstance(container, dict) and _missing_protocol(container.get("ports")):
                    return True
    return False


def cow_copy(body: dict[str, Any], paths: list[Path]) -> dict[str, Any]:
    """A copy sharing every subtree that post-processing leaves alone.

    The top level, ``metadata`` with its labels and annotations, and every container on a path
    that substitution rewrites are copied; all else is shared with the (read-only) build result.
    """
    out = dict(body)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta = dict(meta)
        out["metadata"] = meta
        for section in ("labels", "annotations"):
            if isinstance(meta.get(section), dict):
                meta[section] = dict(meta[section])
    fresh = {id(out), id(meta)}
    for path in paths:
        node: Any = out
        for step in path[:-1]:
            child = node[step]
            if id(child) not in fresh:
                child = dict(child) if isinstance(child, dict) else list(child)
                fresh.add(id(child))
                node[step] = child
            node = child
    return out


def _default_protocol(ports: Any) -> None:
    if isinstance(ports, list):
        for port in ports:
            if isinstance(port, dict) and not port.get("protocol"):
                port["protocol"] = "TCP"


def normalize(body: dict[str, Any]) -> None:
    """fluxcd/pkg ``ssa/normalize``: what the API server would default or fold."""
    kind = body.get("kind")
    meta = body.get("metadata")
    if isinstance(meta, dict):
        meta.pop("creationTimestamp", None)
    if kind != "CustomResourceDefinition":
        body.pop("status", None)
    if kind == "Secret" and isinstance(body.get("stringData"), dict):
        raw = body.get("data")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        for key, value in body.pop("stringData").items():
            data[key] = base64.b64encode(str("" if value is None else value).encode()).decode()
        body["data"] = data
    if kind == "Service":
        spec = body.get("spec")
        if isinstance(spec, dict):
            _default_protocol(spec.get("ports"))
    for pod in pod_specs(body):
        for section in ("containers", "initContainers"):
            for container in pod.get(section) or []:
                if isinstance(container, dict):
                    _default_protocol(container.get("ports"))


def _merge_meta(body: dict[str, Any], section: str, values: Any) -> None:
    if not isinstance(values, dict) or not values:
        return
    meta = body.setdefault("metadata", {})
    target = meta.get(section)
    if not isinstance(target, dict):
        target = {}
        meta[section] = target
    target.update({str(k): str(v) for k, v in values.items()})


def _identity(body: dict[str, Any]) -> str:
    meta = body.get("metadata") or {}
    namespace = str(meta.get("namespace") or "")
    return f"{body.get('kind')}/{namespace + '/' if namespace else ''}{meta.get('name')}"


def _shape_problem(body: dict[str, Any], meta: dict[str, Any]) -> str | None:
    """What the API server's decoder refuses in the fields every object has (typed, not free-form)."""
    for key in ("apiVersion", "kind"):
        if not isinstance(body.get(key), str):
            return f"{key} must be a string"
    for key in ("name", "namespace"):
        if meta.get(key) is not None and not isinstance(meta.get(key), str):
            return f"metadata.{key} must be a string"
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is not None and not (
            isinstance(value, dict)
            and all(isinstance(k, str) and not isinstance(v, dict | list) for k, v in value.items())
        ):
            return f"metadata.{key} must map names to scalar values"
    return None


def process(body: dict[str, Any], ctx: Context, file: str | None) -> dict[str, Any]:
    """The resource as the controller would apply it; raises :class:`ResourceError`."""
    meta = body.get("metadata")
    if (
        not body.get("apiVersion")
        or not body.get("kind")
        or not isinstance(meta, dict)
        or not meta.get("name")
    ):
        raise ResourceError(
            f"failed to decode Kubernetes apiVersion, kind and name from: {file or 'build output'}"
        )
    problem = _shape_problem(body, meta)
    if problem is not None:
        raise ResourceError(f"invalid object in {file or 'build output'}: {problem}")
    paths = ctx.paths_of(body) if ctx.variables is not None else []
    if paths is None or needs_deep_normalize(body):
        out: dict[str, Any] = copy_json(body)
    else:
        out = cow_copy(body, paths)
    masked = secrets.mask_sops(out)
    if masked:
        ident = _identity(out)
        ctx.sops_secrets.append(ident)
        annotations = (out.get("metadata") or {}).get("annotations") or {}
        if not ctx.spec.get("decryption") and str(annotations.get(DECRYPT_KEY, "")).lower() != "disabled":
            ctx.encrypted_without_decryption.append(ident)
    if ctx.variables is not None:
        try:
            # masking changed the copy, so the original's paths no longer describe it
            if masked:
                paths = dollar_paths(out)
            out = substitute_in_place(out, paths, ctx.variables, strict=ctx.strict, memo=ctx.scalars)
        except SubstitutionError as exc:
            raise ResourceError(str(exc)) from None
    labels = out.setdefault("metadata", {}).get("labels")
    if not isinstance(labels, dict):
        labels = {}
        out["metadata"]["labels"] = labels
    labels[ctx.owner_keys[0]] = ctx.name
    labels[ctx.owner_keys[1]] = ctx.namespace
    normalize(out)
    common = ctx.spec.get("commonMetadata")
    if isinstance(common, dict):
        _merge_meta(out, "labels", common.get("labels"))
        _merge_meta(out, "annotations", common.get("annotations"))
    return out
