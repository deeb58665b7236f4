"""Each promotion gate as a pure function: facts in, a pass/fail/skip result with evidence out.

``--force REASON`` turns failed gates into ``forced`` ones; the reason goes into the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from fluxfleet.fleet.names import duration_seconds
from fluxfleet.fleet.promotion import ChangeWindow, Freeze
from fluxfleet.promote.health import HealthReport

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Status(StrEnum):
    passed = "pass"
    failed = "fail"
    skipped = "skip"
    forced = "forced"


@dataclass(frozen=True)
class GateResult:
    name: str
    status: Status
    evidence: str

    def as_dict(self) -> dict[str, str]:
        return {"gate": self.name, "status": self.status.value, "evidence": self.evidence}


def _ok(name: str, evidence: str) -> GateResult:
    return GateResult(name, Status.passed, evidence)


def _fail(name: str, evidence: str) -> GateResult:
    return GateResult(name, Status.failed, evidence)


def _skip(name: str, evidence: str) -> GateResult:
    return GateResult(name, Status.skipped, evidence)


def human_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    d, rem = divmod(seconds, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    parts = [f"{d}d" if d else "", f"{h}h" if h else "", f"{m}m" if m else ""]
    text = "".join(parts)
    return text or f"{s}s"


def when(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def source(source_env: str | None, source_version: str | None, version: str) -> GateResult:
    if source_env is None:
        return _skip("source", f"first environment: {version} enters the fleet here")
    if source_version == version:
        return _ok("source", f"{version} is {source_env}'s version")
    return _fail("source", f"{source_env} runs {source_version or 'no version'}, not {version}")


def automation(env: str, app: str, automated: bool) -> GateResult:
    """Flux's image automation owns an automated environment's tag: a manual promotion would be
    overwritten by the next registry scan, so it needs ``--force`` (e.g. to hold a hotfix)."""
    if not automated:
        return _ok("automation", f"{env} is promoted, not written by image automation")
    return _fail("automation", f"image automation writes {app}'s tag in {env} (--force to override it once)")


def not_bad(version: str, marked_by: tuple[str, str] | None) -> GateResult:
    """``marked_by`` = (commit, subject) of the rollback that marked ``version`` bad."""
    if marked_by is None:
        return _ok("not-bad", f"{version} was never rolled back")
    sha, subject = marked_by
    return _fail("not-bad", f"{version} was marked bad by {sha[:10]} ({subject})")


def known_version(
    version: str, env: str, ran_here: bool, source_env: str | None, ran_there: bool
) -> GateResult:
    """A rollback target must have run before: here, or in the environment it would come from."""
    if ran_here:
        return _ok("known-version", f"{version} ran in {env} before")
    if ran_there and source_env:
        return _ok("known-version", f"{version} passed {source_env}")
    where = f"{env} or {source_env}" if source_env else env
    return _fail("known-version", f"{version} never ran in {where}")


def soak(required: str | None, landed: tuple[str, int] | None, now: datetime, where: str) -> GateResult:
    """``landed`` = (commit, committer time) of the change whose soak is measured."""
    if not required:
        return _skip("soak", "no soak time configured")
    if landed is None:
        return _fail("soak", f"no record of when {where}; cannot measure soak {required}")
    sha, ts = landed
    elapsed = now.timestamp() - ts
    need = duration_seconds(required)
    detail = f"{where} at {when(ts)} ({sha[:10]}): {human_duration(elapsed)} ago, needs {required}"
    if elapsed >= need:
        return _ok("soak", detail)
    return _fail("soak", f"{detail}; {human_duration(need - elapsed)} to go")


def approval(required: bool, approver: str | None, requested: bool) -> GateResult:
    if requested and approver:
        return _ok("approval", f"approved by {approver}")
    if requested and not approver:
        return _fail(
            "approval", "--approve given but no identity: set git config user.name or pass --approver"
        )
    if not required:
        return _skip("approval", "not required")
    return _fail("approval", "this environment requires approval: pass --approve (and --approver NAME)")


def _in_window(window: ChangeWindow, now: datetime) -> bool:
    local = now.astimezone(ZoneInfo(window.timezone))
    if _DAYS[local.weekday()] not in window.days:
        return False
    clock = local.strftime("%H:%M")
    return window.start <= clock < window.end


def window(windows: Sequence[ChangeWindow], now: datetime, *, exempt: bool) -> GateResult:
    if not windows:
        return _skip("window", "no change windows configured")
    if exempt:
        return _skip("window", "rollbacks are exempt from change windows")
    for w in windows:
        if _in_window(w, now):
            return _ok("window", f"inside {w.describe()}")
    return _fail("window", "outside every change window: " + "; ".join(w.describe() for w in windows))


def freeze(freezes: Sequence[Freeze], now: datetime, *, rollback: bool) -> GateResult:
    active = [f for f in freezes if datetime.fromisoformat(f.start) <= now < datetime.fromisoformat(f.end)]
    if not active:
        return _ok("freeze", "no freeze in effect") if freezes else _skip("freeze", "no freezes configured")
    blocking = [f for f in active if not (rollback and f.allow_rollback)]
    if not blocking:
        return _ok("freeze", f"rollback allowed during freeze: {active[0].reason} (until {active[0].end})")
    f = blocking[0]
    return _fail("freeze", f"frozen: {f.reason} (until {f.end})")


def health(required: bool, report: HealthReport | None) -> GateResult:
    if not required:
        return _skip("health", "not required")
    if report is None:
        return _skip("health", "nothing to check")
    return _ok("health", report.evidence) if report.ok else _fail("health", report.evidence)


def rollout(in_progress: str | None, version: str, env: str, done: str) -> GateResult:
    if in_progress is None or in_progress == version:
        return _ok("rollout", "no other rollout in progress")
    return _fail(
        "rollout",
        f"{in_progress} is rolling out in {env} ({done}); finish it or roll it back first "
        "(--force supersedes it)",
    )


def apply_force(results: list[GateResult], reason: str | None) -> list[GateResult]:
    if not reason:
        return results
    return [
        GateResult(r.name, Status.forced, f"{r.evidence} — forced: {reason}")
        if r.status is Status.failed
        else r
        for r in results
    ]


def failed(results: Sequence[GateResult]) -> list[GateResult]:
    return [r for r in results if r.status is Status.failed]


def now_utc() -> datetime:
    return datetime.now(UTC)


def soak_deadline(required: str, landed: int) -> datetime:
    return datetime.fromtimestamp(landed, UTC) + timedelta(seconds=duration_seconds(required))
