"""``rollback --revert COMMIT``: undo exactly one promotion commit with ``git revert``, recorded
with ledger trailers, and mark the version it introduced bad."""

from __future__ import annotations

import re

from fluxfleet.errors import FleetError
from fluxfleet.gitrepo import history
from fluxfleet.gitrepo import push as gitpush
from fluxfleet.gitrepo.git import Git
from fluxfleet.promote import gates as g
from fluxfleet.promote import ledger
from fluxfleet.promote.context import Context
from fluxfleet.promote.plan import Change
from fluxfleet.promote.trust import trusted


def resolve(git: Git, commit: str) -> str:
    res = git.run(
        "rev-parse", "--verify", "-q", "--end-of-options", f"{commit}^{{commit}}", ok_codes=(0, 1, 128)
    )
    if res.returncode != 0:
        raise FleetError(f"unknown commit {commit!r}", hint="see `fluxfleet history` for promotion commits")
    return res.text.strip()


def plan_revert(
    ctx: Context, commit: str, *, approve: bool, approver: str | None, force: str | None
) -> Change:
    git = ctx.git
    sha = resolve(git, commit)
    if not gitpush.is_ancestor(git, sha, ctx.head):
        raise FleetError(f"commit {sha[:10]} is not on the current branch")
    entries = history.log(git, rev=sha, max_count=1)
    rec = ledger.record_from(entries[0]) if entries else None
    if rec is None:
        raise FleetError(
            f"commit {sha[:10]} is not a fluxfleet promotion",
            hint="it carries no Fluxfleet-Action trailer; use `git revert` for other commits",
        )
    if len(rec.parents) != 1:
        raise FleetError(f"commit {sha[:10]} is a merge; revert exactly one promotion commit")
    if not trusted(git, ctx.fleet, (rec,)):
        raise FleetError(
            f"commit {sha[:10]} carries promotion trailers but did not change {rec.app}'s version in {rec.env}",
            hint="only a commit that really promoted or rolled back can be reverted this way; use `git revert`",
        )
    for later in trusted(git, ctx.fleet, tuple(ledger.load(git, app=rec.app))):
        if later.reverts == sha:
            raise FleetError(f"commit {sha[:10]} was already reverted by {later.sha[:10]}")
    env = ctx.fleet.env(rec.env)
    approver_id = (approver or git.identity()) if approve else None
    results = [
        g.GateResult("soak", g.Status.skipped, "reverts skip soak"),
        g.approval(env.promotion.approval, approver_id, approve),
        g.window(env.promotion.windows, ctx.now, exempt=True),
        g.freeze(ctx.fleet.freezes_for(env.name), ctx.now, rollback=True),
    ]
    change = Change(
        "revert",
        rec.app,
        rec.env,
        rec.previous or "",
        rec.version,
        f"revert {sha[:10]}: {rec.subject}",
        source_env=rec.source,
        clusters=rec.clusters,
        base=ctx.head,
        reverts=sha,
        approver=approver_id,
    )
    change.gates = g.apply_force(results, force)
    change.forced_reason = force if any(r.status is g.Status.forced for r in change.gates) else None
    if rec.action == "promote" and rec.version:
        change.bad_version = rec.version
    _check_applies(git, sha)
    touched = git.run(
        "diff-tree", "--no-commit-id", "--name-only", "-r", "--relative", "--end-of-options", sha
    ).text.split("\n")
    change.files = {p: None for p in touched if p}  # for the preview; the revert itself writes them
    return change


# git apply's messages naming the file a hunk failed on (one per line).
_FAILED_PATH = re.compile(
    r"^error: (?:patch failed: (.+):\d+|(.+): (?:does not exist in index|does not match index"
    r"|already exists in working directory|No such file or directory))$",
    re.MULTILINE,
)


def _conflict_error(sha: str, files: list[str]) -> FleetError:
    shown = ", ".join(files) if files else "files changed since"
    return FleetError(
        f"commit {sha[:10]} does not revert cleanly: later commits changed {shown}",
        hint="roll back with `fluxfleet rollback APP --env ENV --to VERSION` instead",
    )


def _check_applies(git: Git, sha: str) -> None:
    """Refuse, before any gate, a revert whose reverse patch does not apply to HEAD (a user error)."""
    patch = git.run("diff-tree", "-p", "--binary", "--end-of-options", sha).stdout
    top = Git(git.toplevel, exe=git.exe)
    res = top.run("apply", "-R", "--check", "--index", "-", input=patch, ok_codes=(0, 1, 128))
    if res.returncode != 0:
        text = res.stderr.decode("utf-8", "replace")
        files = sorted({a or b for a, b in _FAILED_PATH.findall(text) if a or b})
        raise _conflict_error(sha, files)


def apply_revert(git: Git, change: Change) -> list[str]:
    """Apply the revert to index and tree; the changed paths (fleet-relative)."""
    assert change.reverts
    res = git.run("revert", "--no-commit", "--no-edit", "--end-of-options", change.reverts, ok_codes=(0, 1))
    if res.returncode != 0:
        unmerged = git.run("diff", "--name-only", "--diff-filter=U").text.split()
        git.run("revert", "--abort", ok_codes=(0, 128))
        raise _conflict_error(change.reverts, sorted(unmerged))
    git.run("revert", "--quit", ok_codes=(0, 128))
    return [p for p in git.run("diff", "--cached", "--name-only", "--relative").text.split("\n") if p]
