"""Decide a promotion or rollback: which wave, which files change and how, which clusters move,
and what every gate says. Nothing is written here; :mod:`fluxfleet.promote.apply` does that."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fluxfleet import yamlio
from fluxfleet.errors import FleetError
from fluxfleet.fleet.automation import automated_environments
from fluxfleet.fleet.load import Fleet
from fluxfleet.fleet.placement import place
from fluxfleet.fsutil import safe_join
from fluxfleet.generate.apply import compute_changes
from fluxfleet.generate.layout import HEADER, cluster_dirs
from fluxfleet.generate.run import plan_for
from fluxfleet.gitrepo import history
from fluxfleet.promote import gates as g
from fluxfleet.promote.context import Context
from fluxfleet.promote.evidence import GateEvidence, apply_named_force, fleet_gates, parse_named_force
from fluxfleet.promote.health import EvidenceFile, HealthSource
from fluxfleet.promote.scangate import scan_gate
from fluxfleet.promote.state import EnvState, WaveSlice, require_image
from fluxfleet.promote.tags import check_tag
from fluxfleet.promote.yamledit import image_tag, set_app_pins, set_image_tag


@dataclass(frozen=True)
class PromoteRequest:
    app: str
    env: str
    version: str | None = None
    approve: bool = False
    approver: str | None = None
    force: str | None = None  # the reason; failed gates become "forced"
    health: HealthSource | None = None
    evidence: GateEvidence | None = None  # the fleet service; None: git-only, advisory gates


@dataclass(frozen=True)
class RollbackRequest:
    app: str
    env: str
    to: str | None = None
    approve: bool = False
    approver: str | None = None
    force: str | None = None
    mark_bad: bool = True


@dataclass
class Change:
    """One commit's worth of promotion: what moves where, the files, and the gates."""

    action: str  # promote | rollback | revert
    app: str
    env: str
    version: str
    previous: str | None
    subject: str
    source_env: str | None = None
    wave: WaveSlice | None = None
    clusters: tuple[str, ...] = ()
    files: dict[str, str | None] = field(default_factory=dict)  # every write (source + generated)
    originals: dict[str, str | None] = field(default_factory=dict)
    gates: list[g.GateResult] = field(default_factory=list)
    approver: str | None = None
    forced_reason: str | None = None
    skipped_checks_reason: str | None = None
    bad_version: str | None = None
    reverts: str | None = None
    base: str = ""
    noop: str | None = None  # why there is nothing to do
    rendered: list[str] = field(default_factory=list)  # preview lines: rendered diff and checks
    rendered_data: dict[str, Any] = field(default_factory=dict)

    @property
    def refused(self) -> list[g.GateResult]:
        return g.failed(self.gates)

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "app": self.app,
            "env": self.env,
            "from": self.source_env,
            "version": self.version,
            "previousVersion": self.previous,
            "wave": self.wave.label if self.wave else None,
            "clusters": list(self.clusters),
            "files": sorted(self.files),
            "gates": [r.as_dict() for r in self.gates],
            "approver": self.approver,
            "forcedReason": self.forced_reason,
            "skippedChecksReason": self.skipped_checks_reason,
            "badVersion": self.bad_version,
            "reverts": self.reverts,
            "base": self.base,
            "noop": self.noop,
            **self.rendered_data,
        }


def _approver(ctx: Context, approve: bool, approver: str | None) -> str | None:
    if not approve:
        return None
    return approver or ctx.git.identity()


def _health_source(ctx: Context, env: str, given: HealthSource | None) -> HealthSource:
    if given is not None:
        return given
    configured = ctx.fleet.env(env).promotion.health_evidence
    path = Path(configured) if Path(configured).is_absolute() else safe_join(ctx.repo, configured)
    return EvidenceFile(path, configured)


def _read(repo: Path, rel: str) -> str:
    return yamlio.read_text(safe_join(repo, rel), display=rel)


def components_text(repo: Path, fleet: Fleet) -> str | None:
    """The Flux components the repository already carries, so regenerating keeps them as they are."""
    for cdir in cluster_dirs(fleet).values():
        target = safe_join(repo, f"{cdir}/flux-system/gotk-components.yaml")
        if target.is_file():
            text = target.read_text(encoding="utf-8")
            if text.startswith(HEADER + "\n"):
                return text[len(HEADER) + 1 :]
    return None


def generated_writes(ctx: Context, new_fleet: Fleet) -> dict[str, str | None]:
    """Generated files that change when the fleet becomes ``new_fleet`` (refuses a stale tree)."""
    comps = components_text(ctx.repo, ctx.fleet)
    before = compute_changes(ctx.repo, plan_for(ctx.fleet, ctx.placement, comps))
    if before.pending:
        stale = [*before.created, *before.updated, *before.deleted, *before.scaffolded]
        raise FleetError(
            f"the generated files are out of date with fleet.yaml ({len(stale)} files, e.g. {stale[0]})",
            hint="run `fluxfleet generate`, commit, then promote",
        )
    plan = plan_for(new_fleet, place(new_fleet), comps)
    return compute_changes(ctx.repo, plan).writes(plan)


def _with_files(
    ctx: Context, change: Change, overlay: tuple[str, str, str] | None, pins: dict[str, str] | None
) -> None:
    """Fill ``change.files``: the overlay edit, the pins edit and the generated files they imply."""
    if overlay is not None:
        rel, old, new = overlay
        if new != old:
            change.files[rel] = new
            change.originals[rel] = old
    if pins is not None and pins != dict(ctx.fleet.app(change.app).pins):
        rel = ctx.fleet_file_of(change.app)
        old = _read(ctx.repo, rel)
        change.files[rel] = set_app_pins(old, change.app, pins, rel)
        change.originals[rel] = old
        for path, content in generated_writes(ctx, ctx.with_pins(change.app, pins)).items():
            change.files[path] = content
            target = safe_join(ctx.repo, path)
            change.originals[path] = target.read_text(encoding="utf-8") if target.is_file() else None


def _after_versions(state: EnvState, overlay: str | None, pins: dict[str, str]) -> dict[str, str | None]:
    return {c: pins.get(c, overlay) for c in state.clusters}


def _moved(state: EnvState, overlay: str | None, pins: dict[str, str]) -> tuple[str, ...]:
    before = state.cluster_versions()
    after = _after_versions(state, overlay, pins)
    return tuple(c for c in state.clusters if before[c] != after[c])


def plan_promote(ctx: Context, req: PromoteRequest) -> Change:
    fleet = ctx.fleet
    app = fleet.app(req.app)
    env = fleet.env(req.env)
    image = require_image(app)
    target = ctx.state(app.name, env.name)
    src_env = ctx.source_env(app.name, env.name)
    src = ctx.state(app.name, src_env) if src_env else None
    version = req.version if req.version is not None else (src.version if src else None)
    if version is None:
        hint = (
            f"pass --version: {env.name} is the first environment of {app.name}"
            if src is None
            else f"{src_env} has no version of {app.name} in its overlay"
        )
        raise FleetError(f"no version to promote into {env.name}", hint=hint)
    check_tag(version)

    rolling = target.rolling_out
    change = Change("promote", app.name, env.name, version, target.version, "", src_env, base=ctx.head)
    if rolling == version:
        wave = target.next_wave or target.waves[-1]
    elif target.version == version and not target.pins:
        change.noop = f"{app.name} already runs {version} in {env.name}"
        return change
    else:
        wave = target.waves[0]
    final = wave.index == wave.total
    change.wave = wave if env.promotion.waves else None
    superseding = rolling is not None and rolling != version

    results = [
        g.source(src_env, src.version if src else None, version),
        g.not_bad(version, _bad(ctx, version)),
        g.rollout(rolling, version, env.name, f"{target.waves_done}/{len(target.waves)} waves done"),
    ]
    if app.automation is not None:
        automated = env.name in automated_environments(app.automation, fleet.env_names)
        results.append(g.automation(env.name, app.name, automated))
    if env.scan.max_severity:
        results.append(scan_gate(ctx.repo, env, image, version, target.version, ctx.now.date()))
    if wave.index == 1 or superseding:
        landed = ctx.landed(src.overlay, version) if src and src.version == version else None
        if src is None:
            results.append(g.GateResult("soak", g.Status.skipped, "first environment: nothing to soak in"))
        else:
            results.append(g.soak(env.promotion.soak, landed, ctx.now, f"{version} landed in {src_env}"))
    else:
        prev = target.waves[wave.index - 2]
        rec = ctx.ledger.wave_landed(env.name, version, prev.name)
        results.append(
            g.soak(prev.soak, (rec.sha, rec.time) if rec else None, ctx.now, f"wave {prev.name} landed")
        )
    approver = _approver(ctx, req.approve, req.approver)
    results.append(g.approval(env.promotion.approval, approver, req.approve))
    results.append(g.window(env.promotion.windows, ctx.now, exempt=False))
    results.append(g.freeze(ctx.fleet.freezes_for(env.name), ctx.now, rollback=False))
    report = None
    if env.promotion.health:
        watched = src.clusters if (wave.index == 1 or superseding) and src else _earlier(target, wave)
        report = (
            _health_source(ctx, env.name, req.health).check(app.name, version, watched) if watched else None
        )
    results.append(g.health(env.promotion.health, report))
    first = wave.index == 1 or superseding
    if first:
        landed_at = ctx.landed(src.overlay, version) if src and src.version == version else None
        watched_by_service = src.clusters if src else ()
    else:  # later waves: the earlier waves' clusters, from the commit of the wave before
        rec = ctx.ledger.wave_landed(env.name, version, target.waves[wave.index - 2].name)
        landed_at = (rec.sha, rec.time) if rec else None
        watched_by_service = _earlier(target, wave)
    results, service_approver = fleet_gates(
        ctx, req.evidence, app.name, env.name, version, watched_by_service, landed_at, results, soak=first
    )
    named = parse_named_force(req.force)
    if named is None and req.force and req.evidence is not None:
        # with a fleet service every override goes through the role check
        named = {r.name: req.force for r in results if r.status is g.Status.failed}
    if named is not None:
        change.gates = apply_named_force(results, named, req.evidence)
        forced = [r.name for r in change.gates if r.status is g.Status.forced]
        change.forced_reason = f"{','.join(forced)}: {next(iter(named.values()))}" if forced else None
    else:
        change.gates = g.apply_force(results, req.force)
        change.forced_reason = req.force if any(r.status is g.Status.forced for r in change.gates) else None
    change.approver = service_approver or approver

    pins = dict(app.pins)
    if superseding:
        pins = {c: v for c, v in pins.items() if c not in target.clusters}
    overlay_edit = None
    if final:
        pins = {c: v for c, v in pins.items() if c not in target.clusters}
        text = _read(ctx.repo, target.overlay)
        overlay_edit = (target.overlay, text, set_image_tag(text, image, version, target.overlay))
        overlay_after: str | None = version
    else:
        for w in target.waves[: wave.index]:
            pins.update({c: version for c in w.clusters})
        overlay_after = target.version
    change.clusters = _moved(target, overlay_after, pins)
    _with_files(ctx, change, overlay_edit, pins)
    where = f" wave {wave.label}" if change.wave else ""
    origin = f" (from {src_env})" if src_env else ""
    change.subject = f"promote {app.name} {version} to {env.name}{where}{origin}"
    return change


def _earlier(state: EnvState, wave: WaveSlice) -> tuple[str, ...]:
    return tuple(c for w in state.waves[: wave.index - 1] for c in w.clusters)


def _bad(ctx: Context, version: str) -> tuple[str, str] | None:
    rec = ctx.ledger.bad_versions().get(version)
    return (rec.sha, rec.subject) if rec else None


def _overlay_tags(ctx: Context, state: EnvState, image: str) -> Iterator[str]:
    """The tag of ``image`` in each revision of the environment's overlay, newest first, read lazily."""
    for rev in history.file_revisions(ctx.git, state.overlay):
        if rev.content is None:
            continue
        try:
            tag = image_tag(rev.content.decode("utf-8", "replace"), image, state.overlay)
        except FleetError:
            continue
        if tag:
            yield tag


def overlay_versions(ctx: Context, state: EnvState, image: str) -> list[str]:
    """Every version the environment's overlay named, newest first (from git history)."""
    out: list[str] = []
    for tag in _overlay_tags(ctx, state, image):
        if tag not in out:
            out.append(tag)
    return out


def _known_gate(ctx: Context, app_name: str, target: EnvState, image: str, version: str) -> g.GateResult:
    ran_here = version in overlay_versions(ctx, target, image) or version in target.pins.values()
    src_env = ctx.source_env(app_name, target.env)
    ran_there = False
    if not ran_here and src_env is not None:
        src = ctx.state(app_name, src_env)
        ran_there = version in overlay_versions(ctx, src, image)
    return g.known_version(version, target.env, ran_here, src_env, ran_there)


def previous_good(ctx: Context, state: EnvState, image: str, avoid: set[str]) -> str | None:
    """The newest earlier overlay version of this environment that is not bad."""
    return next((tag for tag in _overlay_tags(ctx, state, image) if tag not in avoid), None)


def plan_rollback(ctx: Context, req: RollbackRequest) -> Change:
    fleet = ctx.fleet
    app = fleet.app(req.app)
    env = fleet.env(req.env)
    image = require_image(app)
    if req.to is not None:
        check_tag(req.to, field="--to")
    target = ctx.state(app.name, env.name)
    rolling = target.rolling_out
    bad = set(ctx.ledger.bad_versions())
    if rolling is not None:
        leaving = rolling
        to = req.to or target.version
    else:
        leaving = target.version or ""
        to = req.to or previous_good(ctx, target, image, bad | {leaving})
    if not to:
        raise FleetError(
            f"no earlier good version of {app.name} in {env.name} to roll back to",
            hint="pass --to VERSION",
        )
    check_tag(to, field="--to")
    if rolling is None and to == target.version:
        raise FleetError(f"{app.name} already runs {to} in {env.name}", hint="nothing to roll back")
    change = Change("rollback", app.name, env.name, to, leaving or None, "", base=ctx.head)
    results = [
        g.not_bad(to, _bad(ctx, to)),
        _known_gate(ctx, app.name, target, image, to),
        g.GateResult("soak", g.Status.skipped, "rollbacks skip soak"),
    ]
    approver = _approver(ctx, req.approve, req.approver)
    results.append(g.approval(env.promotion.approval, approver, req.approve))
    results.append(g.window(env.promotion.windows, ctx.now, exempt=True))
    results.append(g.freeze(ctx.fleet.freezes_for(env.name), ctx.now, rollback=True))
    change.gates = g.apply_force(results, req.force)
    change.forced_reason = req.force if any(r.status is g.Status.forced for r in change.gates) else None
    change.approver = approver
    change.bad_version = leaving if req.mark_bad and leaving and leaving != to else None

    pins = {c: v for c, v in app.pins.items() if c not in target.clusters}
    text = _read(ctx.repo, target.overlay)
    overlay_edit = (target.overlay, text, set_image_tag(text, image, to, target.overlay))
    change.clusters = _moved(target, to, pins)
    _with_files(ctx, change, overlay_edit, pins)
    marked = f" ({change.bad_version} marked bad)" if change.bad_version else ""
    change.subject = f"rollback {app.name} in {env.name} to {to}{marked}"
    return change
