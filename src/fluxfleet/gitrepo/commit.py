"""Write side of git: refuse a dirty tree, stage exactly the files a change touched, commit with a
message read from stdin, and put the tree back when anything fails part way."""

from __future__ import annotations

from collections.abc import Iterable

from fluxfleet.errors import FleetError
from fluxfleet.gitrepo.git import Git


def dirty_paths(git: Git) -> list[str]:
    """Tracked files with staged or unstaged changes (untracked files are ignored)."""
    out = git.run("status", "--porcelain=v1", "-z", "--untracked-files=no").text
    paths = []
    for entry in out.split("\0"):
        if len(entry) > 3:
            paths.append(entry[3:])
    return paths


def require_clean(git: Git) -> None:
    dirty = dirty_paths(git)
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise FleetError(
            f"the working tree has uncommitted changes: {shown}",
            hint="commit or stash them first; a promotion must be one clean commit",
        )


def commit_paths(git: Git, paths: Iterable[str], message: str) -> str:
    """Stage ``paths`` (fleet-relative; additions, edits and deletions) and commit them."""
    full = sorted({git.full_path(p) for p in paths})
    if not full:
        raise FleetError("nothing to commit")
    # pathspecs relative to the work tree top, whatever the fleet root is
    git.run("add", "-A", "--", *(f":(top,literal){p}" for p in full))
    git.run("commit", "-q", "--file=-", input=message.encode("utf-8"))
    return git.require_head()


def restore(git: Git, base: str, paths: Iterable[str] = ()) -> None:
    """Return HEAD, index and the given files to ``base`` (the clean state a change started from).

    Files the change created (unknown to ``base``) are removed.
    """
    head = git.head()
    if head != base:
        git.run("reset", "-q", "--hard", base)
    full = sorted({git.full_path(p) for p in paths})
    if not full:
        return
    listed = git.run("ls-tree", "-r", "--name-only", "-z", "--full-tree", base, "--", *full).text
    known = set(listed.split("\0")) - {""}
    tracked = [f":(top,literal){p}" for p in full if p in known]
    if tracked:
        git.run("restore", "--source", base, "--staged", "--worktree", "--", *tracked)
    for p in full:
        if p not in known:
            git.run("rm", "-q", "--cached", "--ignore-unmatch", "--", f":(top,literal){p}")
            target = git.toplevel / p
            if target.is_file() or target.is_symlink():
                target.unlink()
