"""Read-only git access: resolve revisions, find merge bases, read a revision's files into memory.

Every call names the repository with ``git -C`` (the process never changes directory) and goes
through :func:`fluxfleet.proc.run`. A revision is never laid out on disk: a Workspace serves it
from memory (:func:`read_files`).
"""

from __future__ import annotations

from pathlib import Path

from fluxfleet import proc
from fluxfleet.errors import FleetError

GIT_TIMEOUT = 120.0


def _git(repo: Path, *args: str, what: str = "git") -> str:
    binary = proc.find_tool("git")
    if binary is None:
        raise FleetError("git is not installed", hint="install git; fluxfleet reads revisions with it")
    return proc.run([binary, "-C", str(repo), *args], timeout=GIT_TIMEOUT, what=what).text


def _git_bytes(repo: Path, *args: str, what: str = "git") -> bytes:
    binary = proc.find_tool("git")
    if binary is None:
        raise FleetError("git is not installed", hint="install git; fluxfleet reads revisions with it")
    return proc.run([binary, "-C", str(repo), *args], timeout=GIT_TIMEOUT, what=what).stdout


def toplevel(repo: Path) -> Path:
    """The root of the work tree containing ``repo``; FleetError if it is not in a git repository."""
    try:
        return Path(_git(repo, "rev-parse", "--show-toplevel", what="git rev-parse").strip())
    except FleetError:
        raise FleetError(
            f"{repo} is not inside a git repository", hint="run `git init`, or pass -C <repo>"
        ) from None


def resolve(repo: Path, rev: str) -> str:
    """The commit id a revision names; a clear error for unknown revisions."""
    if rev.startswith("-"):
        raise FleetError(f"invalid revision {rev!r}")
    try:
        return _git(
            repo,
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            f"{rev}^{{commit}}",
            what="git rev-parse",
        ).strip()
    except FleetError:
        raise FleetError(
            f"unknown revision {rev!r}", hint="use a branch, tag or commit id, e.g. main or HEAD~1"
        ) from None


def branch_exists(repo: Path, name: str) -> bool:
    try:
        resolve(repo, name)
    except FleetError:
        return False
    return True


def default_branch(repo: Path) -> str:
    """``main`` or ``master`` (local, then origin/), else the remote's HEAD branch."""
    for name in ("main", "master", "origin/main", "origin/master"):
        if branch_exists(repo, name):
            return name
    try:
        ref = _git(repo, "symbolic-ref", "--quiet", "refs/remotes/origin/HEAD").strip()
        return ref.removeprefix("refs/remotes/")
    except FleetError:
        raise FleetError(
            "cannot find the main branch", hint="name the base revision: fluxfleet diff <BASE>"
        ) from None


def merge_base(repo: Path, a: str, b: str) -> str:
    try:
        return _git(repo, "merge-base", resolve(repo, a), resolve(repo, b), what="git merge-base").strip()
    except FleetError as exc:
        if "unknown revision" in exc.message:
            raise
        raise FleetError(
            f"{a} and {b} have no common ancestor", hint="name the base revision explicitly"
        ) from None


MAX_BLOB_BYTES = 16 * 1024 * 1024


def read_files(repo: Path, rev: str, prefix: str = "") -> dict[str, bytes]:
    """Every regular file of ``rev`` under ``prefix`` (paths relative to it), read in two git calls.

    Faster than laying the tree out on disk: one ``ls-tree`` lists the files and one
    ``cat-file --batch`` streams their contents. Symlinks and submodules are left out, as a Flux
    artifact leaves them out; files over 16 MiB are skipped.
    """
    commit = resolve(repo, rev)
    listing = _git_bytes(repo, "ls-tree", "-r", "-l", "-z", "--full-tree", commit, what="git ls-tree")
    wanted: list[tuple[str, str]] = []
    base = prefix.strip("/")
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        mode, kind, blob, size = meta.split()
        if kind != b"blob" or mode not in (b"100644", b"100755"):
            continue
        if size != b"-" and int(size) > MAX_BLOB_BYTES:
            continue
        path = raw_path.decode("utf-8", errors="surrogateescape")
        if base:
            if not path.startswith(base + "/"):
                continue
            path = path[len(base) + 1 :]
        wanted.append((path, blob.decode()))
    if not wanted:
        return {}
    binary = proc.find_tool("git")
    assert binary is not None  # resolve() above already needed it
    stdin = "".join(f"{blob}\n" for _, blob in wanted).encode()
    out = proc.run(
        [binary, "-C", str(repo), "cat-file", "--batch"],
        input=stdin,
        timeout=GIT_TIMEOUT,
        what="git cat-file",
    ).stdout
    files: dict[str, bytes] = {}
    pos = 0
    for path, _ in wanted:
        header_end = out.index(b"\n", pos)
        length = int(out[pos:header_end].split()[2])
        start = header_end + 1
        files[path] = out[start : start + length]
        pos = start + length + 1
    return files
