"""Fleet status from stored object states (pure): per cluster, silent or reporting; per object,
Ready or failing at which revision; drift (not at the wanted revision after 3× its interval); the
version matrix (what git wants per app and cluster vs what the cluster's revision carries).

Flux sends no heartbeat, so a cluster is *silent* when nothing arrived for ``silent_after``; its
last verdicts are shown but never taken as current.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fluxfleet.fleet.names import duration_seconds
from fluxfleet.store.state import ObjectState

DRIFT_FACTOR = 3


def commit_of(revision: str | None) -> str | None:
    """The commit hash in a Flux revision (``main@sha1:<hex>``, ``sha1:<hex>``, legacy ``main/<hex>``)."""
    if not revision:
        return None
    tail = revision.rsplit(":", 1)[-1] if ":" in revision else revision.rsplit("/", 1)[-1]
    return tail if 7 <= len(tail) <= 64 and all(c in "0123456789abcdef" for c in tail) else None


@dataclass(frozen=True)
class ClusterInfo:
    name: str
    environment: str
    interval: str  # the Kustomizations' reconcile interval in this cluster's environment


@dataclass(frozen=True)
class Wanted:
    commit: str
    since: datetime  # when git started wanting it (the commit's time)


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def fleet_status(
    clusters: Sequence[ClusterInfo],
    objects: Sequence[ObjectState],
    now: datetime,
    *,
    silent_after: str = "30m",
    wanted: Wanted | None = None,
) -> dict[str, Any]:
    by_cluster: dict[str, list[ObjectState]] = {}
    for o in objects:
        by_cluster.setdefault(o.cluster, []).append(o)
    silence = timedelta(seconds=duration_seconds(silent_after))
    out: list[dict[str, Any]] = []
    for c in clusters:
        objs = by_cluster.get(c.name, [])
        last = max((o.last_event_at for o in objs if o.last_event_at), default=None)
        silent = last is None or now - last > silence
        grace = timedelta(seconds=DRIFT_FACTOR * duration_seconds(c.interval))
        rows = []
        for o in objs:
            commit = commit_of(o.revision)
            drift = (
                wanted is not None
                and o.kind == "Kustomization"
                and commit is not None
                and not wanted.commit.startswith(commit)
                and now - wanted.since > grace
            )
            rows.append(
                {
                    "kind": o.kind,
                    "namespace": o.namespace,
                    "name": o.name,
                    "ready": o.ready,
                    "revision": o.revision,
                    "reason": o.reason,
                    "message": o.message,
                    "lastEventAt": _iso(o.last_event_at),
                    "readySince": _iso(o.ready_since),
                    "failedAt": _iso(o.failed_at),
                    "drift": drift,
                }
            )
        failing = sum(1 for r in rows if r["ready"] is False)
        state = (
            "silent"
            if silent
            else ("failing" if failing else ("drift" if any(r["drift"] for r in rows) else "ready"))
        )
        out.append(
            {
                "name": c.name,
                "environment": c.environment,
                "state": state,
                "silent": silent,
                "lastEventAt": _iso(last),
                "failing": failing,
                "objects": rows,
            }
        )
    unknown = sorted(set(by_cluster) - {c.name for c in clusters})
    return {"generatedAt": now.isoformat(), "clusters": out, "unknownClusters": unknown}


def fleet_summary(
    clusters: Sequence[ClusterInfo],
    summaries: Mapping[str, Any],
    now: datetime,
    *,
    silent_after: str = "30m",
    wanted: Wanted | None = None,
) -> dict[str, Any]:
    """The overview of every cluster from per-cluster aggregates (no object lists): same states as
    :func:`fleet_status`."""
    silence = timedelta(seconds=duration_seconds(silent_after))
    out = []
    for c in clusters:
        s = summaries.get(c.name)
        last = s.last_event_at if s else None
        silent = last is None or now - last > silence
        grace = timedelta(seconds=DRIFT_FACTOR * duration_seconds(c.interval))
        drift = bool(s and wanted and s.off_wanted and now - wanted.since > grace)
        failing = s.failing if s else 0
        state = "silent" if silent else ("failing" if failing else ("drift" if drift else "ready"))
        out.append(
            {
                "name": c.name,
                "environment": c.environment,
                "state": state,
                "silent": silent,
                "lastEventAt": _iso(last),
                "failing": failing,
                "objects": s.objects if s else 0,
            }
        )
    unknown = sorted(set(summaries) - {c.name for c in clusters})
    return {"generatedAt": now.isoformat(), "clusters": out, "unknownClusters": unknown}


def version_matrix(
    wanted: Mapping[tuple[str, str], str | None],
    reported: Mapping[tuple[str, str], str | None],
    envs: Mapping[str, str],
) -> list[dict[str, Any]]:
    """Rows per app and cluster: ``wanted`` from git at HEAD, ``reported`` from the revision the
    cluster last applied; ``envs`` maps cluster -> environment."""
    rows = []
    for (app, cluster), want in sorted(wanted.items()):
        have = reported.get((app, cluster))
        state = "unknown" if (app, cluster) not in reported else ("current" if have == want else "behind")
        rows.append(
            {
                "app": app,
                "environment": envs.get(cluster, ""),
                "cluster": cluster,
                "wanted": want,
                "reported": have,
                "state": state,
            }
        )
    return rows
