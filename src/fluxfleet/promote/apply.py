"""Carry out a planned change as exactly one commit, and optionally push it.

The working tree must be clean. Files are written as one atomic set, staged by name and committed
with the ledger trailers. With ``push`` the branch is first brought up to the remote's head; when
the push loses a race, the local commit is dropped, the new head fetched, and the whole decision
(state, gates, edit) is made again on it, a bounded number of times. Any failure puts HEAD, index
and files back where they were.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from fluxfleet.errors import FleetError
from fluxfleet.fsutil import write_plan
from fluxfleet.gitrepo import commit as gitcommit
from fluxfleet.gitrepo import push as gitpush
from fluxfleet.gitrepo.git import Git
from fluxfleet.promote import DEFAULT_RETRIES, ledger
from fluxfleet.promote import gates as g
from fluxfleet.promote.context import Context, load_context
from fluxfleet.promote.plan import Change


class GateRefused(FleetError):
    """A gate failed and was not forced. Exit code 3, so automation can tell "not yet" from bad input."""

    exit_code = 3

    def __init__(self, change: Change) -> None:
        lines = [f"{r.name}: {r.evidence}" for r in change.refused]
        super().__init__(
            f"{change.subject or change.action} refused by {len(lines)} gate(s):\n  " + "\n  ".join(lines),
            hint="fix what the gates report, or pass --force REASON to override (recorded in the commit)",
        )
        self.change = change


_BACKOFF_BASE = 0.1
_BACKOFF_CAP = 4.0


def backoff(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait before re-applying after losing race number ``attempt``: exponential with
    full jitter, so promoters that lost together do not collide again in lockstep."""
    ceiling = min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** min(attempt, 16))
    return (rng or random).uniform(0, ceiling)


@dataclass(frozen=True)
class PushOptions:
    push: bool = False
    branch_mode: bool = False  # push a promotion branch (pull-request flow) instead of the branch itself
    remote: str = "origin"
    retries: int = DEFAULT_RETRIES


@dataclass
class Outcome:
    change: Change
    commit: str | None = None
    pushed: str | None = None  # the ref pushed
    branch: str | None = None  # the promotion branch created
    attempts: int = 1
    dry_run: bool = False
    log: list[str] = field(default_factory=list)


Planner = Callable[[Context], Change]


# Gathers what a decision reads on the current HEAD (a use case passes one that shares its Workspace).
class ContextLoader(Protocol):
    """Reads the promotion context at HEAD (``upstream``: the tip of the branch promoted into)."""

    def __call__(
        self, repo: Path, git: Git, now: datetime, app: str | None = None, *, upstream: str | None = None
    ) -> Context: ...


Preview = Callable[[Change, int], None]


def trailers(change: Change) -> list[tuple[str, str | None]]:
    forced = [r.name for r in change.gates if r.status is g.Status.forced]
    return [
        ("Action", change.action),
        ("App", change.app),
        ("Env", change.env),
        ("From", change.source_env),
        ("Version", change.version),
        ("Previous-Version", change.previous),
        ("Wave", change.wave.label if change.wave else None),
        ("Clusters", ",".join(change.clusters)),
        ("Approver", change.approver),
        ("Gates", ",".join(f"{r.name}={r.status.value}" for r in change.gates)),
        ("Forced", ",".join(forced)),
        ("Forced-Reason", change.forced_reason if forced else None),
        ("Skipped-Checks", change.skipped_checks_reason),
        ("Bad-Version", change.bad_version),
        ("Reverts", change.reverts),
        ("Checked-On", change.base),
    ]


def commit_message(change: Change) -> str:
    body = [f"Clusters ({len(change.clusters)}): {', '.join(change.clusters) or 'none'}"]
    body += [f"  {r.status.value:6} {r.name}: {r.evidence}" for r in change.gates]
    return ledger.message(change.subject, body, trailers(change))


def branch_name(change: Change) -> str:
    wave = f"-{change.wave.name}" if change.wave else ""
    return f"fluxfleet/{change.action}/{change.app}/{change.env}/{change.version}{wave}"


def _write_and_commit(git: Git, change: Change, apply_files: Callable[[], list[str]] | None = None) -> str:
    base = change.base
    paths: list[str] = list(change.files)
    try:
        if apply_files is not None:
            paths = apply_files()
        else:
            write_plan(git.root, change.files)
        return gitcommit.commit_paths(git, paths, commit_message(change))
    except BaseException:
        gitcommit.restore(git, base, paths)
        raise


_MAIN_BRANCHES = ("main", "master")


def _upstream(git: Git, opts: PushOptions, dry_run: bool) -> str | None:
    """The tip of the branch a change lands in when it is not HEAD's own history: the remote's
    main branch, fetched when pushing, else as last fetched. Its bad-version marks count too."""
    if opts.push and not opts.branch_mode:
        return None  # HEAD was just brought up to the remote branch it is pushed to
    for name in _MAIN_BRANCHES:
        if opts.push and not dry_run:
            tip = gitpush.fetch(git, opts.remote, name)
        else:
            ref = f"refs/remotes/{opts.remote}/{name}"
            res = git.run("rev-parse", "--verify", "-q", "--end-of-options", ref, ok_codes=(0, 1, 128))
            tip = res.text.strip() if res.returncode == 0 else None
        if tip:
            return tip
    return None


def _promotion_branch(
    git: Git, change: Change, sha: str, name: str, opts: PushOptions, attempt: int, log: list[str]
) -> Outcome:
    """Move the commit to its promotion branch, put the current branch back, push when asked.

    Whatever fails on the way, the repository ends as it was: the branch the user is on at
    ``change.base`` and no promotion branch left behind.
    """
    found = git.run("rev-parse", "--verify", "-q", "--end-of-options", f"refs/heads/{name}", ok_codes=(0, 1))
    previous = found.text.strip() if found.returncode == 0 else None
    moved = False
    try:
        git.run("branch", "-f", "--end-of-options", name, sha)
        moved = True
        gitcommit.restore(git, change.base)
        if opts.push:
            res = gitpush.push(git, opts.remote, sha, f"refs/heads/{name}")
            if not res.ok:
                raise gitpush.PushRejected(
                    f"{opts.remote} refused the promotion branch {name}: {res.message}",
                    hint="a branch of that name may exist already; delete it or merge it first",
                )
    except BaseException:
        gitcommit.restore(git, change.base)
        if moved and previous is None:
            git.run("branch", "-D", "--end-of-options", name, ok_codes=(0, 1))
        elif moved and previous is not None:
            git.run("branch", "-f", "--end-of-options", name, previous)  # put it back where it was
        raise
    return Outcome(change, sha, f"refs/heads/{name}" if opts.push else None, name, attempt, log=log)


def run(
    repo: Path,
    planner: Planner,
    *,
    now: Callable[[], datetime] = g.now_utc,
    app: str | None = None,
    dry_run: bool = False,
    options: PushOptions | None = None,
    preview: Preview | None = None,
    apply_files: Callable[[Change], list[str]] | None = None,
    context: ContextLoader = load_context,
) -> Outcome:
    """Plan on HEAD, show, check gates, commit; with ``options.push`` push and retry on races."""
    opts = options or PushOptions()
    git = Git(repo)
    git.require_head()
    gitcommit.require_clean(git)
    # Pushes go to the branch the local one tracks on that remote (main may track origin/trunk).
    branch = gitpush.upstream_branch(git, git.branch(), opts.remote)
    if opts.push:
        gitpush.check_remote(git, opts.remote)
    start = git.require_head()
    try:
        return _run(repo, git, branch, planner, now, app, dry_run, opts, preview, apply_files, context)
    except BaseException:
        # A refusal or error leaves the repository as it was, whatever step it came from.
        gitcommit.restore(git, start)
        raise


def _run(
    repo: Path,
    git: Git,
    branch: str,
    planner: Planner,
    now: Callable[[], datetime],
    app: str | None,
    dry_run: bool,
    opts: PushOptions,
    preview: Preview | None,
    apply_files: Callable[[Change], list[str]] | None,
    context: ContextLoader,
) -> Outcome:
    if opts.push and not dry_run:
        tip = gitpush.fetch(git, opts.remote, branch)
        if tip is not None:
            gitpush.fast_forward(git, tip)
    attempt = 0
    log: list[str] = []
    while True:
        attempt += 1
        ctx = context(repo, git, now(), app, upstream=_upstream(git, opts, dry_run))
        change = planner(ctx)
        if preview is not None:
            preview(change, attempt)
        if change.noop:
            return Outcome(change, attempts=attempt, dry_run=dry_run, log=log)
        if change.refused:
            raise GateRefused(change)
        if dry_run:
            return Outcome(change, attempts=attempt, dry_run=True, log=log)
        files_fn = (lambda c=change: apply_files(c)) if apply_files is not None else None
        name = gitpush.check_branch_name(git, branch_name(change)) if opts.branch_mode else None
        sha = _write_and_commit(git, change, files_fn)
        if name is not None:
            return _promotion_branch(git, change, sha, name, opts, attempt, log)
        if not opts.push:
            return Outcome(change, sha, attempts=attempt, log=log)
        res = gitpush.push(git, opts.remote, sha, f"refs/heads/{branch}")
        if res.ok:
            return Outcome(change, sha, f"refs/heads/{branch}", attempts=attempt, log=log)
        gitcommit.restore(git, change.base)
        if not res.stale:
            raise gitpush.PushRejected(
                f"{opts.remote} refused the push of {branch}: {res.message}",
                hint="the local commit was dropped; nothing changed. Check the remote's rules and permissions",
            )
        if attempt > opts.retries:
            raise gitpush.PushRejected(
                f"gave up after {attempt} attempts: {branch} on {opts.remote} kept moving",
                hint="try again; the local commit was dropped and nothing changed",
            )
        log.append(f"attempt {attempt}: {opts.remote}/{branch} moved on; re-applying on the new head")
        time.sleep(backoff(attempt))
        tip = gitpush.fetch(git, opts.remote, branch)
        if tip is not None:
            gitpush.fast_forward(git, tip)
