"""Use cases that change the fleet in git: ``promote``, ``rollback`` and ``revert``.

Each attempt (one per push race) reads HEAD's tree once through a Workspace: the decision, the
preview and the ``checks`` gate all see that one fleet. The gate renders the affected clusters
of HEAD and of HEAD with the change applied in memory, and checks both with the CheckSetup that
``fluxfleet check`` uses, so a version the team's Rego policies deny is refused here too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from fluxfleet.check.engine import run_checks
from fluxfleet.fleet.load import Fleet
from fluxfleet.gitrepo import history
from fluxfleet.gitrepo.git import Git
from fluxfleet.promote import apply, ledger, verify
from fluxfleet.promote import gates as g
from fluxfleet.promote.context import Context, load_context
from fluxfleet.promote.evidence import ServiceEvidence, parse_named_force
from fluxfleet.promote.plan import Change, PromoteRequest, RollbackRequest, plan_promote, plan_rollback
from fluxfleet.promote.revert import apply_revert, plan_revert, resolve
from fluxfleet.render.api import RenderOptions, RenderSession
from fluxfleet.usecases.checks import CheckSetup
from fluxfleet.usecases.clock import Clock, SystemClock
from fluxfleet.usecases.render import render_workspace
from fluxfleet.usecases.workspace import Workspace

# Shown before the gates decide: the change, the attempt (1, then one per push race) and the fleet.
PreviewFn = Callable[[Change, int, Fleet], None]
# Opens the repository's current HEAD (clean, so the working tree) for an attempt.
OpenWorkspace = Callable[[Path], Workspace]


@dataclass(frozen=True)
class Delivery:
    """How a decided change lands: not at all (dry run), as a commit, on a branch, pushed."""

    dry_run: bool = False
    push: bool = False
    branch: bool | None = None  # None: the environment's promotion.mode
    remote: str = "origin"
    retries: int = 5


@dataclass(frozen=True)
class PromoteCommand:
    repo: Path
    request: PromoteRequest
    delivery: Delivery = field(default_factory=Delivery)
    skip_checks: str | None = None  # the reason, recorded in the commit


@dataclass(frozen=True)
class RollbackCommand:
    repo: Path
    request: RollbackRequest
    delivery: Delivery = field(default_factory=Delivery)
    skip_checks: str | None = None


@dataclass(frozen=True)
class RevertCommand:
    repo: Path
    commit: str
    approve: bool = False
    approver: str | None = None
    force: str | None = None
    delivery: Delivery = field(default_factory=Delivery)
    skip_checks: str | None = None


@dataclass(frozen=True)
class PromoteResult:
    outcome: apply.Outcome
    fleet: Fleet  # the fleet the decision was made on

    @property
    def change(self) -> Change:
        return self.outcome.change


class _Attempts:
    """The Workspace of the current attempt: reused while HEAD stays, re-read when it moves."""

    def __init__(
        self, repo: Path, render_options: RenderOptions | None, opener: OpenWorkspace | None
    ) -> None:
        self.repo = repo
        self.git = Git(repo)
        self.render_options = render_options or RenderOptions()
        self.open = opener or Workspace.open
        self.workspace = self.open(repo)
        self._head = self.git.head()

    def context(
        self, repo: Path, git: Git, now: datetime, app: str | None = None, *, upstream: str | None = None
    ) -> Context:
        head = git.require_head()
        if head != self._head:
            self.workspace, self._head = self.open(repo), head
        return load_context(repo, git, now, app, fleet=self.workspace.fleet, upstream=upstream)

    def verify(self, ctx: Context, change: Change) -> verify.Verified:
        before_ws = self.workspace
        edits = _revert_edits(ctx.git, change) if change.reverts else change.files
        # HEAD's committed files (the tree is clean), not every file on disk: ignored folders
        # such as a virtualenv inside the repository are no part of the revision.
        after_ws = self.open_commit(ctx.head).with_edits(edits, label=change.action)
        setup = CheckSetup.for_workspace(before_ws)
        with RenderSession(self.render_options) as session:
            before = render_workspace(session, before_ws, change.clusters)
            after = render_workspace(session, after_ws, change.clusters)
        after_options = setup.options(after_ws)
        after_options.baseline = {r.cluster: r for r in before}  # flux-self-removal judges the change
        return verify.Verified(
            before,
            after,
            run_checks(before, setup.options(before_ws)),
            run_checks(after, after_options),
            setup.threshold,
        )

    def open_commit(self, commit: str) -> Workspace:
        if not self.workspace.on_disk:
            return self.workspace  # an opener that serves HEAD from memory already
        return Workspace.open(self.repo, commit)

    def preview(self, show: PreviewFn | None) -> apply.Preview | None:
        if show is None:
            return None
        return lambda change, attempt: show(change, attempt, self.workspace.fleet)


def _revert_edits(git: Git, change: Change) -> dict[str, bytes | None]:
    """The files of a revert: each file the reverted commit touched, as it was before it."""
    assert change.reverts
    out: dict[str, bytes | None] = {}
    for rel in change.files:
        res = git.run("show", f"{change.reverts}^:{git.full_path(rel)}", ok_codes=(0, 128))
        out[rel] = res.stdout if res.returncode == 0 else None  # added by the commit: the revert drops it
    return out


def _branch_mode(fleet: Fleet, env: str | None, flag: bool | None) -> bool:
    if flag is not None:
        return flag
    if env is None or env not in fleet.env_names:
        return False
    return fleet.env(env).promotion.mode == "branch"


def _run(
    attempts: _Attempts,
    planner: Callable[[Context], Change],
    delivery: Delivery,
    env: str | None,
    app: str | None,
    clock: Clock,
    preview: PreviewFn | None,
    apply_files: Callable[[Change], list[str]] | None = None,
) -> PromoteResult:
    fleet = attempts.workspace.fleet
    outcome = apply.run(
        attempts.repo,
        planner,
        now=clock.now,
        app=app,
        dry_run=delivery.dry_run,
        options=apply.PushOptions(
            delivery.push, _branch_mode(fleet, env, delivery.branch), delivery.remote, delivery.retries
        ),
        preview=attempts.preview(preview),
        apply_files=apply_files,
        context=attempts.context,
    )
    return PromoteResult(outcome, attempts.workspace.fleet)


def promote_app(
    command: PromoteCommand,
    *,
    clock: Clock | None = None,
    preview: PreviewFn | None = None,
    render_options: RenderOptions | None = None,
    open_workspace: OpenWorkspace | None = None,
) -> PromoteResult:
    """Promote an app into an environment (one wave), as one commit with ledger trailers."""
    attempts = _Attempts(command.repo, render_options, open_workspace)
    req = command.request

    named = parse_named_force(req.force)
    # --force soak=REASON overrides the checks gate only when it names it
    checks_force = req.force if named is None else named.get("checks")

    def planner(ctx: Context) -> Change:
        return verify.attach(ctx, plan_promote(ctx, req), checks_force, command.skip_checks, attempts.verify)

    result = _run(attempts, planner, command.delivery, req.env, req.app, clock or SystemClock(), preview)
    outcome = result.outcome
    forced = [r.name for r in outcome.change.gates if r.status is g.Status.forced]
    if isinstance(req.evidence, ServiceEvidence) and forced and outcome.commit and not outcome.dry_run:
        # the service's audit log records who overrode which gate, linked to the commit
        c = outcome.change
        req.evidence.record_override(c.app, c.env, c.version, outcome.commit, forced, c.forced_reason or "")
    return result


def rollback_app(
    command: RollbackCommand,
    *,
    clock: Clock | None = None,
    preview: PreviewFn | None = None,
    render_options: RenderOptions | None = None,
    open_workspace: OpenWorkspace | None = None,
) -> PromoteResult:
    """Restore an earlier version of an app in an environment."""
    attempts = _Attempts(command.repo, render_options, open_workspace)
    req = command.request

    def planner(ctx: Context) -> Change:
        return verify.attach(ctx, plan_rollback(ctx, req), req.force, command.skip_checks, attempts.verify)

    return _run(attempts, planner, command.delivery, req.env, req.app, clock or SystemClock(), preview)


def revert_promotion(
    command: RevertCommand,
    *,
    clock: Clock | None = None,
    preview: PreviewFn | None = None,
    render_options: RenderOptions | None = None,
    open_workspace: OpenWorkspace | None = None,
) -> PromoteResult:
    """Revert exactly one promotion commit; the environment's promotion.mode applies as for promote."""
    attempts = _Attempts(command.repo, render_options, open_workspace)
    git = attempts.git
    sha = resolve(git, command.commit)
    entries = history.log(git, rev=sha, max_count=1)
    record = ledger.record_from(entries[0]) if entries else None

    def planner(ctx: Context) -> Change:
        change = plan_revert(
            ctx, sha, approve=command.approve, approver=command.approver, force=command.force
        )
        return verify.attach(ctx, change, command.force, command.skip_checks, attempts.verify)

    return _run(
        attempts,
        planner,
        command.delivery,
        record.env if record else None,
        None,
        clock or SystemClock(),
        preview,
        apply_files=lambda change: apply_revert(git, change),
    )
