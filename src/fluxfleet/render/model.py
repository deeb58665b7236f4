"""Result types of a render (the contract other packages code against).

A render walks a cluster the way kustomize-controller does: start at the cluster's flux-system
Kustomization, build it, find the Flux Kustomizations among its objects, build those, and so on.
Every Kustomization is either rendered or listed with the reason it was not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fluxfleet.objects import K8sObject


class KsStatus(StrEnum):
    rendered = "rendered"
    external = "external"  # its source is not this repository and was not mapped to a folder
    failed = "failed"  # build or substitution error (see ClusterRender.errors)
    skipped = "skipped"  # suspended, or otherwise not rendered on purpose (reason says why)


@dataclass(frozen=True)
class RenderError:
    cluster: str
    message: str
    kustomization: str | None = None  # "namespace/name"
    file: str | None = None  # repository-relative
    line: int | None = None  # 1-based, in ``file``
    column: int | None = None  # 1-based, with ``line``

    @property
    def location(self) -> str | None:
        """``file``, ``file:line`` or ``file:line:column``."""
        if not self.file:
            return None
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}" + (f":{self.column}" if self.column is not None else "")

    def __str__(self) -> str:
        where = " ".join(p for p in (self.cluster, self.kustomization, self.location) if p)
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "kustomization": self.kustomization,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }


@dataclass(frozen=True)
class KustomizationRender:
    """One Flux Kustomization and what it applies."""

    name: str
    namespace: str
    spec: dict[str, Any]  # the Kustomization's spec as found (after its parent's substitution)
    status: KsStatus
    path: str | None = None  # repository-relative build path, when the source is this repo
    source: str = ""  # "GitRepository/flux-system/flux-system"
    parent: str | None = None  # "namespace/name" of the Kustomization that applies this one
    reason: str | None = None
    file: str | None = None  # where the Kustomization object itself is defined
    line: int | None = None  # where its document starts in ``file``, when known
    objects: tuple[K8sObject, ...] = ()
    kind: str = "Kustomization"  # or "ResourceSet" (Flux Operator), expanded the same way
    warnings: tuple[str, ...] = ()  # e.g. substituteFrom sources that exist only in the cluster
    build: str = ""  # how the build was obtained: in-process | kustomize | cache | error
    content_key: str | None = None  # content hash of the build inputs (equal key = equal build)

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"

    @property
    def depends_on(self) -> list[str]:
        out: list[str] = []
        deps = self.spec.get("dependsOn")
        for dep in deps if isinstance(deps, list) else []:  # another type is reported as an error
            if isinstance(dep, dict) and dep.get("name"):
                out.append(f"{dep.get('namespace') or self.namespace}/{dep['name']}")
        return out


@dataclass(frozen=True)
class HelmReleaseInfo:
    """A HelmRelease found in a cluster's render, and whether its chart was rendered."""

    name: str
    namespace: str
    chart: str  # chart name, or "<Kind>/<name>" for a chartRef
    version: str  # as written (may be a range, or empty)
    source: str  # "HelmRepository/ns/name", "OCIRepository/ns/name", ...
    values: tuple[str, ...] = ()  # "inline", "ConfigMap/name[key]", "Secret/name[key]"
    kustomization: str | None = None  # "namespace/name" of the Kustomization that applies it
    rendered: bool = False
    reason: str = ""
    objects: tuple[K8sObject, ...] = ()


@dataclass(frozen=True)
class ClusterRender:
    cluster: str
    path: str  # repository-relative cluster folder (the flux-system Kustomization's path)
    labels: dict[str, str] = field(default_factory=dict)  # from fleet.yaml when known
    kustomizations: tuple[KustomizationRender, ...] = ()
    errors: tuple[RenderError, ...] = ()
    helmreleases: tuple[HelmReleaseInfo, ...] = ()

    @property
    def objects(self) -> list[K8sObject]:
        """Every object applied on the cluster, in Kustomization then build order."""
        return [o for ks in self.kustomizations for o in ks.objects]
