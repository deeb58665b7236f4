"""Clusters bootstrapped by the Flux Operator: a ``FluxInstance`` with ``spec.sync``.

The operator turns ``spec.sync`` into a source and a Kustomization, both named ``sync.name`` or
else the instance's namespace, in that namespace: the source has the sync ``url`` (a Git ``ref``
as ``ref.name``, an OCI ``ref`` as ``ref.tag``, a Bucket ``ref`` as ``bucketName``) and the
Kustomization is ``interval: 10m0s``, ``path: <sync.path>``, ``prune: true``. The instance is either
an object in the repository or the values of the ``flux-instance`` chart in a HelmRelease
(``values.instance.sync``, used by the chart only when ``url`` is set).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fluxfleet.errors import FleetError
from fluxfleet.render.files import FileTree, norm
from fluxfleet.render.fluxks import FluxKustomization, SourceRef

OPERATOR_GROUP = "fluxcd.controlplane.io"
SYNC_KINDS = ("GitRepository", "OCIRepository", "Bucket")
_SKIP_DIRS = frozenset({".git", "node_modules", ".github"})
_MARKERS = (b"FluxInstance", b"flux-instance")


@dataclass(frozen=True)
class Instance:
    """A FluxInstance's sync, where it was found."""

    file: str
    namespace: str
    sync: dict[str, Any]

    @property
    def path(self) -> str | None:
        """The synced folder, root-relative; None when it leaves the repository."""
        return norm(str(self.sync.get("path") or "."))

    def root(self) -> FluxKustomization:
        name = str(self.sync.get("name") or self.namespace)
        kind = str(self.sync.get("kind") or "GitRepository")
        spec: dict[str, Any] = {
            "interval": "10m0s",
            "path": str(self.sync.get("path") or "./"),
            "prune": True,
            "sourceRef": {"kind": kind, "name": name},
        }
        return FluxKustomization(name, self.namespace, spec, self.file)

    def source(self) -> SourceRef:
        name = str(self.sync.get("name") or self.namespace)
        return SourceRef(str(self.sync.get("kind") or "GitRepository"), self.namespace, name)


def _sync_of(doc: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """``(sync, namespace)`` of a FluxInstance or of a HelmRelease of the flux-instance chart."""
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    namespace = str((meta or {}).get("namespace") or "flux-system")
    spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else None
    if spec is None:
        return None
    api = str(doc.get("apiVersion") or "")
    if doc.get("kind") == "FluxInstance" and api.startswith(f"{OPERATOR_GROUP}/"):
        sync = spec.get("sync")
        return (sync, namespace) if isinstance(sync, dict) else None
    if doc.get("kind") == "HelmRelease" and api.startswith("helm.toolkit.fluxcd.io/"):
        values = spec.get("values")
        instance = values.get("instance") if isinstance(values, dict) else None
        sync = instance.get("sync") if isinstance(instance, dict) else None
        if isinstance(sync, dict) and sync.get("url") and _is_flux_instance_chart(spec):
            return sync, str(spec.get("targetNamespace") or namespace)
    return None


def _is_flux_instance_chart(spec: dict[str, Any]) -> bool:
    chart = spec.get("chart")
    chart_spec = chart.get("spec") if isinstance(chart, dict) else None
    if isinstance(chart_spec, dict):
        return str(chart_spec.get("chart") or "").rstrip("/").endswith("flux-instance")
    ref = spec.get("chartRef")
    # chartRef names an OCIRepository of .../flux-instance whose URL may live elsewhere in the
    # repository; values.instance.sync with a url is that chart's own shape, so any chartRef counts
    return isinstance(ref, dict) and ref.get("kind") in ("OCIRepository", "HelmChart", "ExternalArtifact")


def instances(tree: FileTree) -> list[Instance]:
    """Every FluxInstance sync in the repository (files that do not parse are left to the render)."""
    found: list[Instance] = []

    def walk(directory: str) -> None:
        for name, is_dir in tree.listdir(directory):
            rel = f"{directory}/{name}" if directory else name
            if is_dir:
                if name not in _SKIP_DIRS:
                    walk(rel)
                continue
            if not name.endswith((".yaml", ".yml")):
                continue
            try:
                raw = tree.read(rel)[0]
                if not any(marker in raw for marker in _MARKERS):
                    continue
                docs = tree.docs(rel)
            except FleetError:
                continue
            for doc in docs:
                if isinstance(doc, dict):
                    hit = _sync_of(doc)
                    if hit is not None and str(hit[0].get("kind") or "GitRepository") in SYNC_KINDS:
                        found.append(Instance(rel, hit[1], hit[0]))

    walk("")
    return found
