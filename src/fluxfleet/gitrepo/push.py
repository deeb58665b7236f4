"""Talking to the remote: fetch a branch, fast-forward to it, push a commit to a ref, and tell a
non-fast-forward rejection (retry after re-applying) from any other refusal (give up, clearly)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fluxfleet.errors import FleetError
from fluxfleet.gitrepo.git import Git


class PushRejected(FleetError):
    """The remote refused the push for a reason other than a newer head."""


@dataclass(frozen=True)
class PushResult:
    ok: bool
    stale: bool  # rejected because the remote moved on (fetch, re-apply, retry)
    message: str


# A concurrent push shows up either as a plain non-fast-forward or, when two pushes race inside the
# remote, as a ref lock failure; both mean "fetch and try again".
_STALE_MARKERS = (
    "non-fast-forward",
    "fetch first",
    "stale info",
    "cannot lock ref",
    "failed to update ref",
    "incorrect old value",
)


# What `git remote add` accepts in practice, and never an option (`--upload-pack=...`) or a URL.
_REMOTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,99}")


def check_remote(git: Git, remote: str) -> str:
    """``remote`` when it names a configured remote; refused before git ever sees it otherwise."""
    configured = git.out("remote").split()
    if not _REMOTE_NAME.fullmatch(remote) or remote not in configured:
        raise FleetError(
            f"{remote!r} is not a configured remote",
            field="--remote",
            hint=f"configured remotes: {', '.join(configured) or 'none'} (see `git remote -v`)",
        )
    return remote


def check_branch_name(git: Git, name: str) -> str:
    """``name`` when git accepts it as a branch name (before anything is committed)."""
    res = git.run("check-ref-format", "--branch", name, ok_codes=(0, 1, 128))
    if res.returncode != 0 or name.startswith("-"):
        raise FleetError(
            f"{name!r} is not a valid git branch name",
            field="--version",
            hint="versions ending in .lock or holding '..' cannot name a promotion branch",
        )
    return name


def fetch(git: Git, remote: str, branch: str) -> str | None:
    """Fetch ``branch`` from ``remote``; its tip, or None when the remote has no such branch."""
    res = git.run(
        "fetch",
        "-q",
        "--no-tags",
        "--end-of-options",
        remote,
        f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}",
        ok_codes=(0, 1, 128),
        timeout=300,
    )
    if res.returncode != 0:
        message = res.stderr.decode("utf-8", "replace").strip()
        if "couldn't find remote ref" in message:
            return None
        raise FleetError(
            f"could not fetch {branch} from {remote}: {message}",
            hint=f"check `git remote -v` and that you can reach {remote}",
        )
    return git.out("rev-parse", "--verify", "--end-of-options", f"refs/remotes/{remote}/{branch}")


def upstream_branch(git: Git, branch: str, remote: str) -> str:
    """The branch on ``remote`` that ``branch`` tracks (``branch`` itself when it tracks none there)."""
    if git.config(f"branch.{branch}.remote") != remote:
        return branch
    merge = git.config(f"branch.{branch}.merge")
    return merge.removeprefix("refs/heads/") if merge and merge.startswith("refs/heads/") else branch


def is_ancestor(git: Git, older: str, newer: str) -> bool:
    return (
        git.run("merge-base", "--is-ancestor", "--end-of-options", older, newer, ok_codes=(0, 1)).returncode
        == 0
    )


def fast_forward(git: Git, target: str) -> None:
    """Move the current branch (and a clean tree) forward to ``target``."""
    head = git.require_head()
    if head == target or is_ancestor(git, target, head):
        return
    if not is_ancestor(git, head, target):
        raise FleetError(
            "the local branch has diverged from the remote",
            hint="pull (rebase or merge) and push your own commits first, then promote again",
        )
    git.run("merge", "-q", "--ff-only", "--end-of-options", target)


def push(git: Git, remote: str, sha: str, ref: str) -> PushResult:
    res = git.run(
        "push", "--porcelain", "--end-of-options", remote, f"{sha}:{ref}", ok_codes=(0, 1, 128), timeout=300
    )
    text = (res.stdout + res.stderr).decode("utf-8", "replace").strip()
    if res.returncode == 0:
        return PushResult(True, False, text)
    lowered = text.lower()
    stale = any(m in lowered for m in _STALE_MARKERS)
    return PushResult(False, stale, text)
