"""Gate evidence from the fleet itself: an interface, the pure evaluation, and the fleet service
client that implements it.

Without a service, the health, soak and approval gates run on what git and the user say (a health
file, a committer date, ``--approve``); they are marked *advisory*. With one (``spec.service.url``
or ``--service``), they run on what the clusters reported and on approvals made in the service:

- health: every watched cluster reported the app's Kustomization Ready at a revision that contains
  the commit where the version landed, and has not failed since;
- soak: measured from when the last of those clusters first reported Ready at such a revision;
- approval: N distinct approvers (``spec.service.approvals``), never counting the change's author.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from fluxfleet.errors import FleetError
from fluxfleet.gitrepo.git import Git
from fluxfleet.gitrepo.push import is_ancestor
from fluxfleet.promote import gates as g
from fluxfleet.promote.context import Context

ADVISORY = " (advisory: no fleet service)"
ADMIN_GATES = frozenset({"health", "approval"})
GATE_NAMES = frozenset(
    {"source", "not-bad", "rollout", "soak", "approval", "window", "freeze", "health", "checks"}
)
_NAMED = re.compile(r"^([a-z-]+(?:,[a-z-]+)*)=(.+)$", re.S)


@dataclass(frozen=True)
class ClusterReport:
    reported: bool
    ready: bool | None = None
    revision: str | None = None
    message: str = ""
    ready_revisions: tuple[tuple[str, datetime], ...] = ()  # since the last failure, oldest first


@dataclass(frozen=True)
class ApprovalRecord:
    id: int
    approver: str


class GateEvidence(Protocol):
    where: str  # how the source is named in gate evidence

    def clusters(self, app: str, clusters: Sequence[str]) -> dict[str, ClusterReport]: ...

    def approvals(self, app: str, env: str, version: str) -> list[ApprovalRecord]: ...

    def is_admin(self) -> bool: ...


def same_person(a: str, b: str) -> bool:
    """Identities compared by e-mail when they carry one (git's ``Name <mail>`` vs a sign-in's mail)."""

    def norm(x: str) -> str:
        m = re.search(r"<([^>]+)>", x)
        return (m.group(1) if m else x).strip().lower()

    return norm(a) == norm(b)


def commit_of(revision: str | None) -> str | None:
    """The commit in a Flux revision (``main@sha1:<hex>``, ``sha1:<hex>``, legacy ``main/<hex>``)."""
    if not revision:
        return None
    tail = revision.rsplit(":", 1)[-1] if ":" in revision else revision.rsplit("/", 1)[-1]
    return tail if 7 <= len(tail) <= 64 and all(c in "0123456789abcdef" for c in tail) else None


Contains = Callable[[str], bool | None]  # commit -> does it contain the landed change (None: unknown)


def health_gate(
    reports: dict[str, ClusterReport], contains: Contains, version: str, where: str
) -> g.GateResult:
    bad: list[str] = []
    for cluster, r in sorted(reports.items()):
        commit = commit_of(r.revision)
        if not r.reported:
            bad.append(f"{cluster}: no report")
        elif r.ready is not True:
            bad.append(
                f"{cluster}: failing ({r.message[:200]})"
                if r.ready is False
                else f"{cluster}: no verdict yet"
            )
        elif commit is None:
            bad.append(f"{cluster}: revision {r.revision!r} names no commit")
        else:
            has = contains(commit)
            if has is None:
                bad.append(f"{cluster}: at {commit[:10]}, unknown here (git fetch?)")
            elif not has:
                bad.append(f"{cluster}: at {commit[:10]}, which does not contain {version}")
    if bad:
        return g.GateResult("health", g.Status.failed, f"{where}: " + "; ".join(bad))
    return g.GateResult(
        "health", g.Status.passed, f"{len(reports)} cluster(s) Ready with {version} ({where})"
    )


def soak_start(reports: dict[str, ClusterReport], contains: Contains) -> datetime | None:
    """When the last cluster first reported Ready at a revision containing the change (since its
    last failure); None while any cluster has not."""
    starts = []
    for r in reports.values():
        first = next(
            (since for rev, since in r.ready_revisions if (c := commit_of(rev)) and contains(c)), None
        )
        if first is None:
            return None
        starts.append(first)
    return max(starts) if starts else None


def approval_gate(
    needed: int, approvals: Sequence[ApprovalRecord], author: str | None, where: str
) -> tuple[g.GateResult, str | None]:
    """The gate and the approver text recorded in the commit (names with approval ids)."""
    if needed <= 0:
        return g.GateResult("approval", g.Status.skipped, "not required"), None
    seen: dict[str, ApprovalRecord] = {}
    own = False
    for a in approvals:
        if author and same_person(a.approver, author):
            own = True
            continue
        seen.setdefault(a.approver.lower(), a)
    valid = sorted(seen.values(), key=lambda a: a.id)
    text = ", ".join(f"{a.approver} (approval #{a.id})" for a in valid) or None
    note = "; the author's own approval does not count" if own else ""
    if len(valid) >= needed:
        return g.GateResult("approval", g.Status.passed, f"approved in {where} by {text}{note}"), text
    return (
        g.GateResult(
            "approval",
            g.Status.failed,
            f"{len(valid)} of {needed} distinct approvals in {where}{note}; approve in the service",
        ),
        text,
    )


def replace_gate(results: list[g.GateResult], new: g.GateResult) -> None:
    for i, r in enumerate(results):
        if r.name == new.name:
            results[i] = new
            return
    results.append(new)


def mark_advisory(results: list[g.GateResult]) -> list[g.GateResult]:
    return [
        g.GateResult(r.name, r.status, r.evidence + ADVISORY)
        if r.name in ("health", "soak", "approval") and r.status is not g.Status.skipped
        else r
        for r in results
    ]


def parse_named_force(value: str | None) -> dict[str, str] | None:
    """``--force soak=REASON`` (or ``soak,window=REASON``) names the gates it overrides; a plain
    ``--force REASON`` (no gate names) keeps overriding every failed gate."""
    m = _NAMED.match(value or "")
    if not m or not set(m.group(1).split(",")) <= GATE_NAMES:
        return None
    return dict.fromkeys(m.group(1).split(","), m.group(2).strip())


def apply_named_force(
    results: list[g.GateResult], named: dict[str, str], evidence: GateEvidence | None
) -> list[g.GateResult]:
    """Force only the named gates; with a fleet service, health and approval need the admin role."""
    known = {r.name for r in results}
    unknown = sorted(set(named) - known)
    if unknown:
        raise FleetError(
            f"no gate named {unknown[0]!r} in this promotion",
            field="--force",
            hint=f"gates: {', '.join(sorted(known))}",
        )
    admin = evidence.is_admin() if evidence is not None and set(named) & ADMIN_GATES else False
    out = []
    for r in results:
        reason = named.get(r.name)
        if reason is None or r.status is not g.Status.failed:
            out.append(r)
        elif evidence is not None and r.name in ADMIN_GATES and not admin:
            out.append(
                g.GateResult(r.name, r.status, f"{r.evidence}; overriding {r.name} needs the admin role")
            )
        else:
            out.append(g.GateResult(r.name, g.Status.forced, f"{r.evidence} — forced: {reason}"))
    return out


class ServiceEvidence:
    """The fleet service over HTTP (``GET /api/evidence``, ``/api/approvals``, ``/api/whoami``)."""

    def __init__(self, url: str, token: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.where = f"fleet service {self.url}"
        self._token = token
        self._timeout = timeout

    def _get(self, path: str, params: dict[str, str]) -> Any:
        import httpx

        try:
            res = httpx.get(
                f"{self.url}{path}",
                params=params,
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            raise FleetError(
                f"cannot reach the fleet service at {self.url}: {type(exc).__name__}",
                hint="check spec.service.url / --service; the gates do not fall back to git when a service is set",
            ) from None
        if res.status_code in (401, 403):
            raise FleetError(
                f"the fleet service refused the token ({res.status_code})",
                hint="set FLUXFLEET_TOKEN to a valid, unexpired token (`fluxfleet serve token`)",
            )
        if res.status_code != 200:
            raise FleetError(f"the fleet service answered {res.status_code} for {path}")
        try:
            return res.json()
        except ValueError:
            raise FleetError(f"the fleet service sent no JSON for {path}") from None

    def clusters(self, app: str, clusters: Sequence[str]) -> dict[str, ClusterReport]:
        data = self._get("/api/evidence", {"app": app, "clusters": ",".join(clusters)})
        out: dict[str, ClusterReport] = {}
        for name in clusters:
            r = (data.get("clusters") or {}).get(name) or {}
            revs = tuple(
                (str(x["revision"]), datetime.fromisoformat(x["since"]))
                for x in r.get("readyRevisions") or ()
            )
            out[name] = ClusterReport(
                bool(r.get("reported")), r.get("ready"), r.get("revision"), str(r.get("message") or ""), revs
            )
        return out

    def approvals(self, app: str, env: str, version: str) -> list[ApprovalRecord]:
        data = self._get("/api/approvals", {"app": app, "env": env, "version": version})
        return [ApprovalRecord(int(a["id"]), str(a["approver"])) for a in data.get("approvals") or ()]

    def is_admin(self) -> bool:
        return "admin" in (self._get("/api/whoami", {}).get("scopes") or ())

    def record_override(
        self, app: str, env: str, version: str, commit: str, gates: Sequence[str], reason: str
    ) -> None:
        """Put a forced promotion in the service's audit log (after its commit exists)."""
        import httpx

        body = {
            "app": app,
            "env": env,
            "version": version,
            "commit": commit,
            "gates": list(gates),
            "reason": reason,
        }
        try:
            res = httpx.post(
                f"{self.url}/api/overrides",
                json=body,
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            raise FleetError(
                f"committed, but the override was not recorded in the fleet service: {type(exc).__name__}"
            ) from None
        if res.status_code != 200:
            raise FleetError(
                f"committed, but the fleet service refused to record the override ({res.status_code})"
            )


def _contains(git: Git, landed: str, commit: str) -> bool | None:
    if git.run("cat-file", "-e", f"{commit}^{{commit}}", ok_codes=(0, 1, 128)).returncode != 0:
        return None
    return is_ancestor(git, landed, commit)


def fleet_gates(
    ctx: Context,
    evidence: GateEvidence | None,
    app: str,
    env: str,
    version: str,
    watched: Sequence[str],
    landed: tuple[str, int] | None,
    results: list[g.GateResult],
    *,
    soak: bool = True,
) -> tuple[list[g.GateResult], str | None]:
    """Health, soak and approval from the fleet service (the approver text too), or today's gates
    marked advisory when there is no service. ``soak`` False keeps the git-measured soak (between
    waves)."""
    if evidence is None:
        return mark_advisory(results), None
    out = list(results)
    promotion = ctx.fleet.env(env).promotion
    if watched and landed is not None:
        sha = landed[0]

        def contains(commit: str) -> bool | None:
            return _contains(ctx.git, sha, commit)

        reports = evidence.clusters(app, watched)
        if promotion.health:
            replace_gate(out, health_gate(reports, contains, version, evidence.where))
        if soak and promotion.soak:
            start = soak_start(reports, contains)
            where = f"{version} Ready on {len(watched)} cluster(s) ({evidence.where})"
            at = (sha, int(start.timestamp())) if start else None
            replace_gate(out, g.soak(promotion.soak, at, ctx.now, where))
    needed = ctx.fleet.service.approvals.get(env, 0) if ctx.fleet.service else 0
    needed = needed or (1 if promotion.approval else 0)
    if not needed:
        return out, None
    gate, text = approval_gate(
        needed, evidence.approvals(app, env, version), ctx.git.identity(), evidence.where
    )
    replace_gate(out, gate)
    return out, text
