"""What a change will do, for people: files with line counts and the hand-written files' diffs,
clusters grouped by environment and region (with their team), and the gates with evidence."""

from __future__ import annotations

import difflib
from typing import Any

from fluxfleet.fleet.load import Fleet
from fluxfleet.generate.layout import HEADER_PREFIX
from fluxfleet.promote.plan import Change


def _counts(old: str | None, new: str | None) -> tuple[int, int]:
    added = removed = 0
    for line in difflib.unified_diff((old or "").splitlines(), (new or "").splitlines(), lineterm="", n=0):
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return added, removed


def file_summary(change: Change) -> list[dict[str, Any]]:
    out = []
    for path in sorted(change.files):
        new = change.files[path]
        old = change.originals.get(path)
        kind = "D" if new is None and path in change.originals else ("A" if old is None else "M")
        if path not in change.originals:
            kind = "M"  # a revert's file list: contents are decided by git
        added, removed = _counts(old, new) if path in change.originals else (0, 0)
        generated = (new or old or "").startswith(HEADER_PREFIX)
        out.append({"path": path, "change": kind, "added": added, "removed": removed, "generated": generated})
    return out


def cluster_groups(fleet: Fleet, clusters: tuple[str, ...]) -> dict[str, dict[str, list[str]]]:
    """env -> region -> ["cluster (cluster label team=x)"], in fleet order.

    The cluster's ``team`` label (who runs the cluster) is not the app's team (who owns the app):
    the label is spelled out so a reader cannot take one for the other.
    """
    groups: dict[str, dict[str, list[str]]] = {}
    for name in clusters:
        c = fleet.cluster(name)
        team = c.labels.get("team")
        label = f"{name} (cluster label team={team})" if team else name
        groups.setdefault(c.environment, {}).setdefault(c.region, []).append(label)
    return groups


def source_diffs(change: Change) -> list[str]:
    """Unified diffs of the hand-written files (overlay, fleet.yaml); generated ones are summarised."""
    lines: list[str] = []
    for path in sorted(change.files):
        new, old = change.files[path], change.originals.get(path)
        if path not in change.originals or (new or old or "").startswith(HEADER_PREFIX):
            continue
        lines += difflib.unified_diff(
            (old or "").splitlines(), (new or "").splitlines(), f"a/{path}", f"b/{path}", lineterm="", n=1
        )
    return lines


def render_text(change: Change, fleet: Fleet, extra: list[str] | None = None) -> str:
    wave = f" [wave {change.wave.label}]" if change.wave else ""
    origin = f" from {change.source_env}" if change.source_env and change.action == "promote" else ""
    head = {
        "promote": f"Promote {change.app} {change.previous or '(none)'} -> {change.version} into {change.env}{origin}{wave}",
        "rollback": f"Roll back {change.app} in {change.env}: {change.previous or '(none)'} -> {change.version}",
        "revert": f"Revert {change.reverts and change.reverts[:10]}: {change.app} in {change.env} "
        f"{change.previous or '(none)'} -> {change.version or '(previous state)'}",
    }[change.action]
    out = [head]
    if change.noop:
        out.append(f"  nothing to do: {change.noop}")
        return "\n".join(out) + "\n"
    if change.bad_version:
        out.append(f"  marks {change.bad_version} bad for {change.app}")
    files = file_summary(change)
    out.append(f"Files ({len(files)}):")
    for f in files:
        counts = f" (+{f['added']} -{f['removed']})" if f["added"] or f["removed"] else ""
        tag = "  [generated]" if f["generated"] else ""
        out.append(f"  {f['change']} {f['path']}{counts}{tag}")
    diffs = source_diffs(change)
    if diffs:
        out += ["  " + d for d in diffs]
    owner = next((a.team for a in fleet.apps if a.name == change.app and a.team), None)
    owner_note = f"; app team: {owner}" if owner else ""
    out.append(f"Clusters affected ({len(change.clusters)}{owner_note}):")
    for env, regions in cluster_groups(fleet, change.clusters).items():
        out.append(f"  {env}")
        for region, names in regions.items():
            out.append(f"    {region}: {', '.join(names)}")
    if not change.clusters:
        out.append("  none")
    out.append("Gates:")
    width = max((len(r.name) for r in change.gates), default=4)
    for r in change.gates:
        out.append(f"  {r.status.value:6} {r.name:{width}}  {r.evidence}")
    out += change.rendered
    if extra:
        out += extra
    return "\n".join(out) + "\n"


def as_dict(change: Change, fleet: Fleet) -> dict[str, Any]:
    data = change.as_dict()
    data["files"] = file_summary(change)
    data["clusterGroups"] = cluster_groups(fleet, change.clusters)
    data["appTeam"] = next((a.team for a in fleet.apps if a.name == change.app and a.team), None)
    return data
