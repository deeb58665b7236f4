"""A read-only view of a source root (the repository, or a folder mapped to another source).

It shows what a Flux artifact would contain: regular files only (source-controller drops
symlinks and other non-regular files), none that ``.sourceignore`` or source-controller's default
exclusions leave out (:mod:`fluxfleet.render.sourceignore`), and nothing outside the root. Every file is
read and hashed at most once; YAML documents are parsed at most once per distinct content, in a
memo a render session shares between its trees (two revisions of a repo share all unchanged files)
and that ends with the session.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from fluxfleet import yamlio
from fluxfleet.errors import FleetError
from fluxfleet.render import sourceignore

_PARSED_MAX = 50_000

# sha256 of a file's content -> its YAML documents
ParseMemo = dict[str, list[Any]]


# What a render read, for per-cluster reuse: (tree role, op, path) -> what it saw. op is "f" (a
# file's sha256, or "!error"), "m" (the kind of a path: its st_mode, None when absent), "d" (a
# directory listing) or "s" (a symlink, FIFO or device on the way to a path, see ``special``).
# Replaying the same questions on another tree and getting the same answers proves that anything
# computed from these reads is the same on that tree.
Reads = dict[tuple[str, str, str], Any]

_RECORDING: ContextVar[Reads | None] = ContextVar("fluxfleet_reads", default=None)


@contextmanager
def recording(reads: Reads | None = None) -> Iterator[Reads]:
    """Record every question asked of any tree in this thread into ``reads`` (nested: also the outer)."""
    target: Reads = {} if reads is None else reads
    outer = _RECORDING.get()
    token = _RECORDING.set(target)
    try:
        yield target
    finally:
        _RECORDING.reset(token)
        if outer is not None and outer is not target:
            outer.update(target)


def note(reads: Reads) -> None:
    """Add reads made earlier (a shared build's) to the current recording, if any."""
    current = _RECORDING.get()
    if current is not None and current is not reads:
        current.update(reads)


def norm(rel: str) -> str | None:
    """Normalise a root-relative POSIX path; None when it escapes the root. The root is ``""``."""
    cleaned = posixpath.normpath(rel.replace("\\", "/").lstrip("/")) if rel else "."
    if cleaned == ".":
        return ""
    if cleaned == ".." or cleaned.startswith("../"):
        return None
    return cleaned


def join(base: str, rel: str) -> str | None:
    return norm(posixpath.join(base, rel) if base else rel)


class FileTree:
    """Regular files under ``root``; paths are root-relative POSIX strings."""

    def __init__(self, root: Path, label: str = "", parsed: ParseMemo | None = None) -> None:
        self.root = root.resolve()
        self.label = label or str(root)
        self.role = ""  # names this tree in recorded reads: "" for the repository, else its mapped root
        self.parsed: ParseMemo = {} if parsed is None else parsed
        self.checked: set[str] = set()  # sha256 of inputs that passed the planner's YAML bounds
        self._root = str(self.root)
        self._stat: dict[str, int | None] = {}  # rel -> st_mode (None: absent or not regular)
        self._content: dict[str, tuple[bytes, str]] = {}
        self._listing: dict[str, list[tuple[str, bool]]] = {}
        self._lock = threading.Lock()
        self._ignore: sourceignore.SourceIgnore | None = None

    def ignore(self) -> sourceignore.SourceIgnore:
        """The artifact's exclusions, from every ``.sourceignore`` under the root (read once)."""
        if self._ignore is None:
            found: list[sourceignore.Pattern] = []
            for top, dirs, names in os.walk(self._root):
                dirs[:] = sorted(d for d in dirs if d != ".git")  # source-controller's order
                if sourceignore.IGNORE_FILE not in names:
                    continue
                rel = os.path.relpath(top, self._root)
                domain = () if rel == "." else tuple(rel.split(os.sep))
                path = Path(top, sourceignore.IGNORE_FILE)
                try:
                    if not stat.S_ISREG(path.lstat().st_mode):
                        continue  # a link or FIFO is not in the artifact (and would not be read)
                    text = yamlio.read_text(path, display=sourceignore.IGNORE_FILE)
                except (OSError, FleetError):
                    continue  # an unreadable ignore file hides nothing
                found += sourceignore.read_patterns(text, domain)
            self._ignore = sourceignore.SourceIgnore(found)
        return self._ignore

    def _path(self, rel: str) -> str:
        return os.path.join(self._root, rel) if rel else self._root

    def _scan(self, rel: str) -> list[tuple[str, bool]]:
        """Scan one directory (one system call, no stat per entry) and record its entries' kinds."""
        out: list[tuple[str, bool]] = []
        try:
            with os.scandir(self._path(rel)) as entries:
                for entry in entries:
                    if entry.name == ".git":
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        out.append((entry.name, True))
                    elif entry.is_file(follow_symlinks=False) and not self.ignore().excluded(
                        f"{rel}/{entry.name}" if rel else entry.name
                    ):
                        out.append((entry.name, False))
        except OSError:
            out = []
        out.sort()
        prefix = f"{rel}/" if rel else ""
        for name, is_dir in out:
            self._stat[prefix + name] = stat.S_IFDIR if is_dir else stat.S_IFREG
        self._listing[rel] = out
        return out

    def _mode(self, rel: str) -> int | None:
        if rel in self._stat:
            return self._stat[rel]
        mode: int | None = None
        if rel == "":
            mode = stat.S_IFDIR
        elif rel.startswith("/"):
            pass  # not root-relative: nothing here (and "/" is its own dirname, an endless walk up)
        else:
            parent = posixpath.dirname(rel)
            if parent not in self._listing:
                parent_mode = self._mode(parent)
                if parent_mode is not None and stat.S_ISDIR(parent_mode):
                    self._scan(parent)
            mode = self._stat.get(rel)
        self._stat[rel] = mode
        return mode

    def _asked_mode(self, rel: str) -> int | None:
        mode = self._mode(rel)
        reads = _RECORDING.get()
        if reads is not None:
            reads[(self.role, "m", rel)] = mode
        return mode

    def is_file(self, rel: str) -> bool:
        mode = self._asked_mode(rel)
        return mode is not None and stat.S_ISREG(mode)

    def is_dir(self, rel: str) -> bool:
        mode = self._asked_mode(rel)
        return mode is not None and stat.S_ISDIR(mode)

    def exists(self, rel: str) -> bool:
        return self._asked_mode(rel) is not None

    def special(self, rel: str) -> str | None:
        """What makes ``rel`` unreadable for a build: its first part that is not a regular file or
        directory (a symbolic link, FIFO, device or socket), as words; None when there is none."""
        answer = self._special(rel)
        reads = _RECORDING.get()
        if reads is not None:
            reads[(self.role, "s", rel)] = answer
        return answer

    def _special(self, rel: str) -> str | None:
        current = self._root
        for part in rel.split("/") if rel else []:
            current = os.path.join(current, part)
            try:
                mode = os.lstat(current).st_mode
            except (OSError, ValueError):  # absent, a name too long, a NUL in it
                return None
            if stat.S_ISLNK(mode):
                return "a symbolic link"
            if stat.S_ISFIFO(mode):
                return "a FIFO"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                return "a device"
            if stat.S_ISSOCK(mode):
                return "a socket"
        return None

    def listdir(self, rel: str) -> list[tuple[str, bool]]:
        """Sorted (name, is_dir) of the regular files and directories in ``rel``."""
        listing = self._list(rel)
        reads = _RECORDING.get()
        if reads is not None:
            reads[(self.role, "d", rel)] = listing
        return listing

    def _list(self, rel: str) -> list[tuple[str, bool]]:
        cached = self._listing.get(rel)
        if cached is not None:
            return cached
        if self._mode(rel) != stat.S_IFDIR:
            self._listing[rel] = []
            return []
        return self._scan(rel)

    def walk_files(self, rel: str) -> list[str]:
        """Every regular file under ``rel``, in lexical walk order."""
        out: list[str] = []
        for name, is_dir in self.listdir(rel):
            child = f"{rel}/{name}" if rel else name
            if is_dir:
                out.extend(self.walk_files(child))
            else:
                out.append(child)
        return out

    def read(self, rel: str) -> tuple[bytes, str]:
        """(content, sha256 hex) of a regular file; raises FileNotFoundError otherwise."""
        reads = _RECORDING.get()
        if reads is None:
            return self._load(rel)
        try:
            entry = self._load(rel)
        except OSError as exc:
            reads[(self.role, "f", rel)] = f"!{type(exc).__name__}: {exc}"
            raise
        reads[(self.role, "f", rel)] = entry[1]
        return entry

    def same_answers(self, reads: Reads, role: str) -> bool:
        """Whether this tree answers every question in ``reads`` made of the tree ``role`` the same way."""
        for (where, op, rel), seen in reads.items():
            if where != role:
                continue
            if op == "f":
                try:
                    now: Any = self._load(rel)[1]
                except OSError as exc:
                    now = f"!{type(exc).__name__}: {exc}"
            elif op == "m":
                now = self._mode(rel)
            elif op == "s":
                now = self._special(rel)
            else:
                now = self._list(rel)
            if now != seen:
                return False
        return True

    def _load(self, rel: str) -> tuple[bytes, str]:
        hit = self._content.get(rel)
        if hit is not None:
            return hit
        if self._mode(rel) != stat.S_IFREG:
            raise FileNotFoundError(rel)
        fd = os.open(self._path(rel), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as fh:
            size = os.fstat(fd).st_size
            if size > yamlio.MAX_FILE_BYTES:
                raise OSError(f"{rel}: file is {size} bytes, over the limit of {yamlio.MAX_FILE_BYTES}")
            data = fh.read()
        entry = (data, hashlib.sha256(data).hexdigest())
        with self._lock:
            self._content[rel] = entry
        return entry

    def docs(self, rel: str) -> list[Any]:
        """The YAML documents of a file, parsed once per distinct content (treat as read-only)."""
        data, digest = self.read(rel)
        hit = self.parsed.get(digest)
        if hit is not None:
            return hit
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FleetError(f"file is not UTF-8 text ({exc.reason})", file=rel) from None
        docs = yamlio.load_all(text, rel)
        with self._lock:
            if len(self.parsed) >= _PARSED_MAX:
                self.parsed.clear()
            self.parsed[digest] = docs
        return docs

    def share_parses(self, memo: ParseMemo) -> None:
        """Parse into ``memo`` from now on (a render session's, shared by all its trees)."""
        if memo is not self.parsed:
            memo.update(self.parsed)
            self.parsed = memo


class MemoryTree(FileTree):
    """A source root held in memory (a git revision read with ``gitrepo.tree.read_files``)."""

    def __init__(
        self, files: dict[str, bytes], root: Path, label: str = "", parsed: ParseMemo | None = None
    ) -> None:
        super().__init__(root, label, parsed)
        found: list[sourceignore.Pattern] = []
        for rel in sorted(files, key=lambda r: r.split("/")):
            if rel.rpartition("/")[2] == sourceignore.IGNORE_FILE:
                text = files[rel].decode("utf-8", errors="replace")
                found += sourceignore.read_patterns(text, tuple(rel.split("/")[:-1]))
        self._ignore = sourceignore.SourceIgnore(found)
        files = {rel: data for rel, data in files.items() if not self._ignore.excluded(rel)}
        self._files = files
        self._dirs: dict[str, set[tuple[str, bool]]] = {"": set()}
        for rel in files:
            parts = rel.split("/")
            if ".git" in parts:
                continue
            for i in range(len(parts)):
                parent = "/".join(parts[:i])
                is_dir = i < len(parts) - 1
                self._dirs.setdefault(parent, set()).add((parts[i], is_dir))
                if is_dir:
                    self._dirs.setdefault("/".join(parts[: i + 1]), set())

    def snapshot(self) -> dict[str, bytes]:
        """A copy of every file (path -> content), without reading them one by one."""
        return dict(self._files)

    def _mode(self, rel: str) -> int | None:
        if rel in self._dirs:
            return stat.S_IFDIR
        if rel in self._files:
            return stat.S_IFREG
        return None

    def _list(self, rel: str) -> list[tuple[str, bool]]:
        return sorted(self._dirs.get(rel, set()))

    def _special(self, rel: str) -> str | None:
        return None  # a git tree read holds regular files only (symlinks are left out)

    def _load(self, rel: str) -> tuple[bytes, str]:
        hit = self._content.get(rel)
        if hit is not None:
            return hit
        data = self._files.get(rel)
        if data is None:
            raise FileNotFoundError(rel)
        entry = (data, hashlib.sha256(data).hexdigest())
        with self._lock:
            self._content[rel] = entry
        return entry
