"""Read side of git history: commits with their trailers in one ``git log`` call, the revisions of
one file (one log plus one ``cat-file --batch``), and the commit that last changed a string in a file
(pickaxe). None of these starts a process per commit, so they stay fast on long histories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fluxfleet.gitrepo.git import Git

_FIELDS = ("%H", "%P", "%an <%ae>", "%at", "%ct", "%s", "%(trailers:only,unfold)")
_FORMAT = "%x1f".join(_FIELDS) + "%x1e"


@dataclass(frozen=True)
class LogEntry:
    sha: str
    parents: tuple[str, ...]
    author: str
    author_time: int
    commit_time: int
    subject: str
    trailers: tuple[tuple[str, str], ...]

    def trailer(self, key: str) -> str | None:
        """The last value of trailer ``key`` (keys compare case-insensitively, as git's do)."""
        want = key.lower()
        found = None
        for k, v in self.trailers:
            if k.lower() == want:
                found = v
        return found


def parse_trailers(text: str) -> tuple[tuple[str, str], ...]:
    out = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key and " " not in key.strip():
            out.append((key.strip(), value.strip()))
    return tuple(out)


def parse_log(text: str) -> list[LogEntry]:
    entries = []
    for record in text.split("\x1e"):
        record = record.lstrip("\n")
        if not record:
            continue
        parts = record.split("\x1f")
        if len(parts) != len(_FIELDS):
            continue
        sha, parents, author, atime, ctime, subject, trailers = parts
        entries.append(
            LogEntry(
                sha=sha,
                parents=tuple(parents.split()),
                author=author,
                author_time=int(atime),
                commit_time=int(ctime),
                subject=subject,
                trailers=parse_trailers(trailers),
            )
        )
    return entries


def log(
    git: Git,
    *,
    rev: str = "HEAD",
    grep: Sequence[str] = (),
    all_match: bool = False,
    paths: Sequence[str] = (),
    max_count: int | None = None,
) -> list[LogEntry]:
    """Commits reachable from ``rev``, newest first; ``grep`` patterns are fixed strings."""
    args = ["log", f"--format={_FORMAT}", "--fixed-strings"]
    args += [f"--grep={g}" for g in grep]
    if all_match and len(grep) > 1:
        args.append("--all-match")
    if max_count is not None:
        args.append(f"--max-count={max_count}")
    args += ["--end-of-options", rev]
    if paths:
        args += ["--", *(f":(top,literal){git.full_path(p)}" for p in paths)]
    if git.head() is None:
        return []
    return parse_log(git.run(*args, timeout=600).text)


@dataclass(frozen=True)
class FileRevision:
    sha: str
    commit_time: int
    content: bytes | None  # None: the file does not exist in that commit


def file_revisions(git: Git, path: str, *, rev: str = "HEAD", max_count: int = 200) -> list[FileRevision]:
    """The file's content after each commit that changed it, newest first."""
    if git.head() is None:
        return []
    full = git.full_path(path)
    listing = git.run(
        "log",
        "--format=%H %ct",
        f"--max-count={max_count}",
        "--end-of-options",
        rev,
        "--",
        f":(top,literal){full}",
    ).text.split()
    pairs = list(zip(listing[0::2], listing[1::2], strict=True))
    if not pairs:
        return []
    request = "".join(f"{sha}:{full}\n" for sha, _ in pairs).encode("utf-8")
    blobs = _cat_file_batch(git, request, len(pairs))
    return [FileRevision(sha, int(ct), blob) for (sha, ct), blob in zip(pairs, blobs, strict=True)]


def _cat_file_batch(git: Git, request: bytes, count: int) -> list[bytes | None]:
    raw = git.run("cat-file", "--batch", input=request).stdout
    out: list[bytes | None] = []
    pos = 0
    for _ in range(count):
        nl = raw.index(b"\n", pos)
        header = raw[pos:nl].split()
        pos = nl + 1
        if len(header) < 3 or header[1] == b"missing":
            out.append(None)
            continue
        size = int(header[2])
        out.append(raw[pos : pos + size])
        pos += size + 1
    return out


def read_at(git: Git, wanted: Sequence[tuple[str, str]]) -> list[bytes | None]:
    """The content of each (revision, fleet-relative path) in one process; None where absent."""
    if not wanted:
        return []
    request = "".join(f"{rev}:{git.full_path(p)}\n" for rev, p in wanted).encode("utf-8")
    return _cat_file_batch(git, request, len(wanted))


def read_blobs(git: Git, rev: str, paths: Sequence[str]) -> dict[str, bytes | None]:
    """Several files at one revision in one process (fleet-relative paths)."""
    if not paths:
        return {}
    request = "".join(f"{rev}:{git.full_path(p)}\n" for p in paths).encode("utf-8")
    return dict(zip(paths, _cat_file_batch(git, request, len(paths)), strict=True))


def last_change(git: Git, path: str, needle: str, *, rev: str = "HEAD") -> tuple[str, int] | None:
    """The newest commit that changed how often ``needle`` occurs in ``path`` (git's pickaxe)."""
    if git.head() is None:
        return None
    out = git.out(
        "log",
        "--max-count=1",
        "--format=%H %ct",
        f"-S{needle}",
        "--end-of-options",
        rev,
        "--",
        f":(top,literal){git.full_path(path)}",
    ).split()
    if len(out) != 2:
        return None
    return out[0], int(out[1])
