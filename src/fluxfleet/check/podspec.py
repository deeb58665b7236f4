"""Where the pod spec of each workload kind lives, and the containers inside it.

Security rules run on pod specs; Rego policies written for Pods run on a Pod synthesised from a
workload's template (Gatekeeper's "expansion"). Both use the table below.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# kind -> path of the pod template inside the object (Pod: the object itself)
TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": (),
    "Deployment": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
WORKLOAD_KINDS = frozenset(TEMPLATE_PATHS)
LONG_RUNNING_KINDS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController"}
)
CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")


def _dig(body: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(body, dict):
            return None
        body = body.get(part)
    return body


def pod_template(body: dict[str, Any]) -> dict[str, Any] | None:
    """The pod template (``{metadata, spec}``) of a workload, or the Pod itself."""
    path = TEMPLATE_PATHS.get(str(body.get("kind")))
    if path is None:
        return None
    found = _dig(body, path) if path else body
    return found if isinstance(found, dict) else None


def pod_spec(body: dict[str, Any]) -> dict[str, Any] | None:
    template = pod_template(body)
    spec = template.get("spec") if template else None
    return spec if isinstance(spec, dict) else None


def containers(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(field, container)`` for every container of a pod spec, init and ephemeral included."""
    for fld in CONTAINER_FIELDS:
        items = spec.get(fld)
        if isinstance(items, list):
            for c in items:
                if isinstance(c, dict):
                    yield fld, c


def container_label(fld: str, container: dict[str, Any]) -> str:
    prefix = {"initContainers": "init container", "ephemeralContainers": "ephemeral container"}
    return f"{prefix.get(fld, 'container')} {container.get('name', '?')!r}"


def sc_value(spec: dict[str, Any], container: dict[str, Any], key: str) -> Any:
    """A security-context field with container-over-pod precedence."""
    csc = container.get("securityContext")
    if isinstance(csc, dict) and csc.get(key) is not None:
        return csc[key]
    psc = spec.get("securityContext")
    if isinstance(psc, dict):
        return psc.get(key)
    return None


def container_sc(container: dict[str, Any]) -> dict[str, Any]:
    csc = container.get("securityContext")
    return csc if isinstance(csc, dict) else {}


def synthesise_pod(body: dict[str, Any]) -> dict[str, Any] | None:
    """The Pod a controller would create from a workload's template (for Pod-targeted policies)."""
    if body.get("kind") == "Pod":
        return body
    template = pod_template(body)
    if template is None:
        return None
    parent_meta = body.get("metadata") or {}
    meta = dict(template.get("metadata") or {})
    meta["name"] = parent_meta.get("name", "")
    if parent_meta.get("namespace"):
        meta["namespace"] = parent_meta["namespace"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template.get("spec") or {}}


def mapping(value: Any) -> dict[str, Any]:
    """``value`` when it is a mapping, else an empty one (rendered YAML may hold anything)."""
    return value if isinstance(value, dict) else {}
