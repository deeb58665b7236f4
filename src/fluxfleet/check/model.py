"""Value types of a check run: severities, rules, violations and findings.

A rule yields :class:`Violation` (what is wrong, on which object); the engine turns each into a
:class:`Finding` by adding the cluster, the effective severity and the object's source location.
Reports (text, json, sarif, junit) read findings only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from fluxfleet.objects import K8sObject, ObjectKey

if TYPE_CHECKING:
    from fluxfleet.check.context import ClusterContext


class Severity(StrEnum):
    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_RANK = {s: i for i, s in enumerate(Severity)}


@dataclass(frozen=True)
class Violation:
    """One problem found by a rule. ``severity`` overrides the rule's default (Rego warn/deny)."""

    message: str
    obj: K8sObject | None = None
    severity: Severity | None = None
    file: str | None = None  # when the problem is not an object's (a Kustomization's file, a policy)
    line: int | None = None
    kustomization: str | None = None


ObjectCheck = Callable[[K8sObject, "ClusterContext"], Iterable[Violation]]
ClusterCheck = Callable[["ClusterContext"], Iterable[Violation]]


@dataclass(frozen=True)
class Rule:
    """A registered rule. ``kinds`` limits an object rule to those kinds (None: every object)."""

    id: str
    severity: Severity
    hint: str
    doc: str
    category: str
    object_check: ObjectCheck | None = None
    cluster_check: ClusterCheck | None = None
    kinds: frozenset[str] | None = None


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    cluster: str
    message: str
    hint: str
    object: ObjectKey | None = None
    file: str | None = None
    line: int | None = None
    kustomization: str | None = None
    suppressed: str | None = None  # the exception's reason when an annotation suppresses it

    @property
    def location(self) -> str:
        if not self.file:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file

    def sort_key(self) -> tuple[Any, ...]:
        return (
            self.cluster,
            self.rule,
            self.file or "",
            self.line or 0,
            str(self.object or ""),
            self.message,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity.value,
            "cluster": self.cluster,
            "message": self.message,
            "hint": self.hint,
        }
        if self.object is not None:
            out["object"] = {
                "apiVersion": self.object.api_version,
                "kind": self.object.kind,
                "namespace": self.object.namespace or None,
                "name": self.object.name,
            }
        if self.file:
            out["file"] = self.file
        if self.line:
            out["line"] = self.line
        if self.kustomization:
            out["kustomization"] = self.kustomization
        if self.suppressed is not None:
            out["suppressed"] = self.suppressed
        return out


@dataclass
class CheckStats:
    clusters: int = 0
    objects: int = 0
    schema_seconds: float = 0.0
    total_seconds: float = 0.0
    rule_seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class CheckResult:
    """Every finding of a run (suppressed ones kept apart) plus the rules that ran."""

    findings: list[Finding]
    suppressed: list[Finding]
    rules: list[Rule]
    stats: CheckStats = field(default_factory=CheckStats)
    clusters: dict[str, str] = field(default_factory=dict)  # cluster -> its repository folder
    environments: dict[str, str] = field(default_factory=dict)  # cluster -> environment, when known

    def failing(self, threshold: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity.at_least(threshold)]
