"""Created, changed and deleted objects per cluster between two renders (pure).

Objects are matched by identity (group, kind, namespace, name; the version is ignored, as the API
server serves every version of an object). Secret values never appear: both sides are masked
before diffing, and a changed value shows as ``*** (before)`` / ``*** (after)`` like ``flux diff``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fluxfleet import yamlio
from fluxfleet.objects import K8sObject
from fluxfleet.render.model import ClusterRender

MASK = "***"


@dataclass(frozen=True)
class ObjectChange:
    action: str  # created | changed | deleted
    object: str  # "Kind/ns/name"
    api_version: str
    kustomization: str | None
    diff: str = ""  # unified diff (changed), or the masked YAML (created/deleted)
    note: str = ""


@dataclass
class ClusterChanges:
    cluster: str
    labels: dict[str, str] = field(default_factory=dict)
    status: str = "changed"  # changed | added | removed
    changes: list[ObjectChange] = field(default_factory=list)
    teams: set[str] = field(default_factory=set)

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)


@dataclass
class DiffResult:
    clusters: list[ClusterChanges]
    base: str
    head: str

    @property
    def changed(self) -> bool:
        return any(c.changes for c in self.clusters)


def _identity(obj: K8sObject) -> tuple[str, str, str, str]:
    return (obj.key.group, obj.key.kind, obj.key.namespace, obj.key.name)


def _masked_pair(before: dict[str, Any] | None, after: dict[str, Any] | None) -> tuple[Any, Any]:
    """Secret values replaced by markers that only tell whether each value changed."""

    def values(body: dict[str, Any] | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if body:
            for section in ("data", "stringData"):
                part = body.get(section)
                if isinstance(part, dict):
                    out.update({f"{section}.{k}": v for k, v in part.items()})
        return out

    old, new = values(before), values(after)

    def mask(body: dict[str, Any] | None, mine: dict[str, Any], other: dict[str, Any], label: str) -> Any:
        if body is None:
            return None
        out = dict(body)
        for section in ("data", "stringData"):
            part = body.get(section)
            if isinstance(part, dict):
                masked = {}
                for key, value in part.items():
                    flat = f"{section}.{key}"
                    changed = flat in other and other[flat] != value
                    masked[key] = f"{MASK} ({label})" if changed else MASK
                out[section] = masked
        if "sops" in out:
            out["sops"] = MASK
        return out

    return mask(before, old, new, "before"), mask(after, new, old, "after")


def _display_pair(before: K8sObject | None, after: K8sObject | None) -> tuple[str, str]:
    kind = (after or before).key.kind if (after or before) else ""  # type: ignore[union-attr]
    b = before.body if before else None
    a = after.body if after else None
    if kind == "Secret":
        b, a = _masked_pair(b, a)
    return (yamlio.dump(b) if b is not None else "", yamlio.dump(a) if a is not None else "")


def _unified(before: str, after: str, name: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{name}", f"b/{name}", n=3
    )
    return "".join(lines)


def _prune_of(render: ClusterRender | None) -> dict[str, bool]:
    if render is None:
        return {}
    return {ks.id: ks.spec.get("prune") is not False for ks in render.kustomizations}


def compare_cluster(
    base: ClusterRender | None, head: ClusterRender | None, team_of: Callable[[str | None], str | None]
) -> ClusterChanges:
    name = (head or base).cluster  # type: ignore[union-attr]
    labels = dict((head or base).labels)  # type: ignore[union-attr]
    status = "added" if base is None else "removed" if head is None else "changed"
    result = ClusterChanges(name, labels, status)
    old = {_identity(o): o for o in (base.objects if base else [])}
    new = {_identity(o): o for o in (head.objects if head else [])}
    prune = _prune_of(base)
    for ident, obj in new.items():
        before = old.get(ident)
        if before is not None and (before.body is obj.body or before.body == obj.body):
            continue
        b_text, a_text = _display_pair(before, obj)
        if before is None:
            change = ObjectChange(
                "created", str(obj.key), obj.key.api_version, obj.source.kustomization, a_text
            )
        else:
            diff = _unified(b_text, a_text, str(obj.key))
            if not diff:  # only masked values changed in ways that mask identically
                diff = "(Secret values changed)\n"
            change = ObjectChange(
                "changed", str(obj.key), obj.key.api_version, obj.source.kustomization, diff
            )
        result.changes.append(change)
        team = team_of(obj.source.kustomization)
        if team:
            result.teams.add(team)
    for ident, obj in old.items():
        if ident in new:
            continue
        b_text, _ = _display_pair(obj, None)
        note = (
            ""
            if prune.get(obj.source.kustomization or "", True)
            else "prune is disabled: it stays in the cluster"
        )
        result.changes.append(
            ObjectChange("deleted", str(obj.key), obj.key.api_version, obj.source.kustomization, b_text, note)
        )
        team = team_of(obj.source.kustomization)
        if team:
            result.teams.add(team)
    order = {"deleted": 0, "changed": 1, "created": 2}
    result.changes.sort(key=lambda c: (c.object, order[c.action]))
    return result


def compare(
    base: list[ClusterRender],
    head: list[ClusterRender],
    *,
    base_label: str = "base",
    head_label: str = "head",
    team_of: Callable[[str | None], str | None] = lambda ks: None,
) -> DiffResult:
    old = {r.cluster: r for r in base}
    new = {r.cluster: r for r in head}
    names = list(new) + [n for n in old if n not in new]
    clusters = [compare_cluster(old.get(n), new.get(n), team_of) for n in names]
    return DiffResult(clusters, base_label, head_label)


def summary(result: DiffResult) -> dict[str, dict[str, list[str]]]:
    """Changed clusters grouped by environment, region, the cluster's ``team`` label and app team.

    The label says who runs a cluster, an app's team who owns what changed: one heading for both
    read as if the platform team owned the app.
    """
    groups: dict[str, dict[str, list[str]]] = {}
    for cluster in result.clusters:
        if not cluster.changes:
            continue
        for key, heading in (
            ("environment", "environment"),
            ("region", "region"),
            ("team", "cluster label team"),
        ):
            value = cluster.labels.get(key)
            if value:
                groups.setdefault(heading, {}).setdefault(value, []).append(cluster.cluster)
        for team in sorted(cluster.teams):
            members = groups.setdefault("app team", {}).setdefault(team, [])
            if cluster.cluster not in members:
                members.append(cluster.cluster)
    return groups
