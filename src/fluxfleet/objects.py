"""Kubernetes object identity shared by render, check, diff and report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, order=True)
class ObjectKey:
    """Identity of a Kubernetes object, as in a Flux inventory entry."""

    group: str
    version: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, body: dict[str, Any]) -> ObjectKey:
        api = str(body.get("apiVersion") or "")
        group, _, version = api.rpartition("/")
        meta = body.get("metadata") or {}
        return cls(
            group=group,
            version=version,
            kind=str(body.get("kind") or ""),
            namespace=str(meta.get("namespace") or ""),
            name=str(meta.get("name") or ""),
        )

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def inventory_id(self) -> str:
        """Flux's inventory id: ``<ns>_<name>_<group>_<kind>``."""
        return f"{self.namespace}_{self.name}_{self.group}_{self.kind}"

    def __str__(self) -> str:
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class Provenance:
    """Where a rendered object came from: the file (if known) and the Flux Kustomization."""

    file: str | None = None
    line: int | None = None
    kustomization: str | None = None  # "namespace/name" of the Flux Kustomization that applies it


@dataclass(frozen=True)
class K8sObject:
    key: ObjectKey
    body: dict[str, Any] = field(hash=False, compare=False)
    source: Provenance = field(default_factory=Provenance)

    @classmethod
    def of(cls, body: dict[str, Any], source: Provenance | None = None) -> K8sObject:
        return cls(ObjectKey.of(body), body, source or Provenance())
