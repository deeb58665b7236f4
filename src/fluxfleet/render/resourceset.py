"""Expand Flux Operator ResourceSets whose inputs are known offline.

flux-operator renders ``spec.resources`` (each serialised to YAML) and ``spec.resourcesTemplate``
once per input set with Go templates delimited by ``<<`` and ``>>`` (see ``gotemplate.py`` for the
supported part: ``if``/``range``/``with``, variables, pipelines, common functions). Inputs are the
inline ``spec.inputs`` followed by ``inputsFrom`` providers of the same render (``Static``
ResourceSetInputProviders, by name or label selector, Flatten strategy). Providers that only the
cluster knows, templates outside the supported part, or Permute make the ResourceSet "not
expanded", with the reason.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from fluxfleet import yamlio
from fluxfleet.errors import FleetError
from fluxfleet.render import gotemplate
from fluxfleet.render.varsub import goyaml_text

GROUP = "fluxcd.controlplane.io"
OWNER_NAME = "resourceset.fluxcd.controlplane.io/name"
OWNER_NAMESPACE = "resourceset.fluxcd.controlplane.io/namespace"


class ExpandError(Exception):
    pass


class InvalidResourceSet(ExpandError):
    """The spec is of a shape the API server refuses: an error, not just "unknowable offline"."""


class ExpandLimit(ExpandError):
    """A template over its budget (``gotemplate.BudgetError``): reported as a render error."""


def is_resourceset(body: dict[str, Any]) -> bool:
    return body.get("kind") == "ResourceSet" and str(body.get("apiVersion") or "").startswith(GROUP + "/")


def _render_resource(resource: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any] | None:
    """One ``resources[]`` item: serialised as the operator does (go-yaml), templated, re-parsed."""
    text = goyaml_text(resource, "<<")
    if "<<" not in text:
        return resource
    try:
        docs = yamlio.load_all(gotemplate.execute(text, inputs), "<resourceset>")
    except gotemplate.BudgetError as exc:
        raise ExpandLimit(f"template: {exc}") from None
    except gotemplate.TemplateError as exc:
        raise ExpandError(f"template: {exc}") from None
    except FleetError as exc:
        raise ExpandError(f"a resource does not parse after expansion: {exc.message}") from None
    objects = [d for d in docs if isinstance(d, dict)]
    return objects[0] if len(objects) == 1 else None


PROVIDER_KIND = "ResourceSetInputProvider"
# (namespace, name) -> a ResourceSetInputProvider of the same render
Providers = Mapping[tuple[str, str], dict[str, Any]]


def _labels_match(body: Mapping[str, Any], selector: Mapping[str, Any]) -> bool:
    labels = (body.get("metadata") or {}).get("labels") or {}
    wanted = selector.get("matchLabels") or {}
    if selector.get("matchExpressions"):
        raise ExpandError("inputsFrom selector.matchExpressions is not supported offline")
    return isinstance(labels, dict) and all(labels.get(k) == v for k, v in dict(wanted).items())


def _provider_sets(body: Mapping[str, Any], namespace: str) -> list[dict[str, Any]]:
    """The input sets a provider exports; only ``Static`` ones are knowable offline."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    name = str(meta.get("name") or "")
    kind = str((spec or {}).get("type") or "")
    if kind != "Static":
        raise ExpandError(
            f"input provider {namespace}/{name} has type {kind!r}, which only the cluster knows"
        )
    defaults = (spec or {}).get("defaultValues")
    values = dict(defaults) if isinstance(defaults, dict) else {}
    # The operator's id is a checksum of the provider's UID, which only the cluster has; like
    # `flux-operator build rset --inputs-from-provider`, the name stands in for it.
    values["id"] = str(zlib.adler32(name.encode()))
    values["provider"] = {
        "apiVersion": str(body.get("apiVersion") or ""),
        "kind": PROVIDER_KIND,
        "name": name,
        "namespace": namespace,
    }
    return [values]


def _inputs_from(spec: Mapping[str, Any], namespace: str, providers: Providers) -> list[dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for ref in spec.get("inputsFrom") or []:
        if not isinstance(ref, dict):
            continue
        if ref.get("name"):
            body = providers.get((namespace, str(ref["name"])))
            if body is None:
                raise ExpandError(
                    f"inputsFrom: provider {namespace}/{ref['name']} is not in the render (it may exist only in the cluster)"
                )
            found[(namespace, str(ref["name"]))] = body
        elif isinstance(ref.get("selector"), dict):
            for key, body in providers.items():
                if key[0] == namespace and _labels_match(body, ref["selector"]):
                    found[key] = body
    out: list[dict[str, Any]] = []
    for key in sorted(found):  # the operator orders providers by kind, namespace and name
        out.extend(_provider_sets(found[key], namespace))
    return out


def expand(body: dict[str, Any], providers: Providers | None = None) -> list[dict[str, Any]]:
    """The objects a ResourceSet generates; raises :class:`ExpandError` when that is not knowable."""
    spec = body.get("spec") or {}
    if not isinstance(spec, dict):
        raise InvalidResourceSet("invalid ResourceSet: spec must be a mapping")
    for key in ("inputs", "inputsFrom", "resources"):
        if spec.get(key) is not None and not isinstance(spec.get(key), list):
            raise InvalidResourceSet(f"invalid ResourceSet: spec.{key} must be a list")
    namespace = str((body.get("metadata") or {}).get("namespace") or "")
    strategy = spec.get("inputStrategy") if isinstance(spec.get("inputStrategy"), dict) else {}
    if str((strategy or {}).get("name") or "Flatten") != "Flatten":
        raise ExpandError("inputStrategy Permute is not supported offline")
    inputs: list[dict[str, Any]] = [i for i in (spec.get("inputs") or []) if isinstance(i, dict)]
    if spec.get("inputsFrom"):
        inputs += _inputs_from(spec, namespace, providers or {})
        if not inputs:
            return []  # providers that export nothing: the operator renders nothing
    input_sets = inputs or [{}]
    out: list[dict[str, Any]] = []
    for values in input_sets:
        for resource in spec.get("resources") or []:
            rendered = _render_resource(resource, values) if isinstance(resource, dict) else None
            if isinstance(rendered, dict):
                out.append(rendered)
        template = spec.get("resourcesTemplate")
        if isinstance(template, str) and template.strip():
            try:
                docs = yamlio.load_all(gotemplate.execute(template, values), "<resourcesTemplate>")
            except gotemplate.BudgetError as exc:
                raise ExpandLimit(f"resourcesTemplate: {exc}") from None
            except gotemplate.TemplateError as exc:
                raise ExpandError(f"resourcesTemplate: {exc}") from None
            except FleetError as exc:
                raise ExpandError(
                    f"resourcesTemplate does not parse after expansion: {exc.message}"
                ) from None
            out.extend(d for d in docs if isinstance(d, dict))
    return _dedup(out)


def _dedup(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """First object per group/kind/namespace/name wins; ``reconcile: disabled`` ones are dropped."""
    seen: set[tuple[str, str, str, str]] = set()
    out = []
    for obj in objects:
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        annotations = (meta or {}).get("annotations") or {}
        labels = (meta or {}).get("labels") or {}
        if "disabled" in (
            str(annotations.get("fluxcd.controlplane.io/reconcile", "")).lower(),
            str(labels.get("fluxcd.controlplane.io/reconcile", "")).lower(),
        ):
            continue
        group = str(obj.get("apiVersion") or "").rpartition("/")[0]
        key = (
            group,
            str(obj.get("kind") or ""),
            str((meta or {}).get("namespace") or ""),
            str((meta or {}).get("name") or ""),
        )
        if key in seen:
            continue
        seen.add(key)
        out.append(obj)
    return out
