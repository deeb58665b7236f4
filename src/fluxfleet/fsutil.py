"""Paths that never leave the repository, and all-or-nothing writes.

A :class:`FilePlan` maps repository-relative paths to content (``None`` means delete). It is
written by staging every new file next to its target first, then renaming them into place; on any
error the staged files are removed, so a failed write leaves the tree as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from fluxfleet.errors import FleetError


def check_relative(path: str, *, field: str | None = None, file: str | None = None) -> PurePosixPath:
    """Validate a repository-relative path given by the user (no absolute paths, no ``..``)."""
    cleaned = path.strip()
    if cleaned.startswith("./"):
        cleaned = cleaned[2:]
    pure = PurePosixPath(cleaned)
    if not cleaned or pure.is_absolute() or cleaned.startswith("~"):
        raise FleetError(
            f"path {path!r} must be relative to the repository root",
            field=field,
            file=file,
            hint="write it like `apps/myapp` without a leading `/`",
        )
    if ".." in pure.parts:
        raise FleetError(
            f"path {path!r} escapes the repository root",
            field=field,
            file=file,
            hint="remove the `..` parts",
        )
    return pure


def safe_join(root: Path, rel: str | PurePosixPath, *, field: str | None = None) -> Path:
    """Join and resolve symlinks; refuse any result outside ``root``."""
    root_resolved = root.resolve()
    rel_str = str(rel)
    if rel_str in ("", ".", "./"):
        return root_resolved
    pure = check_relative(rel_str, field=field)
    target = (root_resolved / pure).resolve()
    if target != root_resolved and root_resolved not in target.parents:
        raise FleetError(
            f"path {rel_str!r} resolves outside the repository root (through a symlink)",
            field=field,
            hint="symlinks that leave the repository are refused",
        )
    return target


FilePlan = Mapping[str, str | None]


def write_plan(root: Path, plan: FilePlan) -> None:
    """Write (or delete, for ``None``) every file of ``plan`` under ``root``, atomically as a set."""
    staged: list[tuple[Path, Path]] = []
    deletes: list[Path] = []
    try:
        for rel in sorted(plan):
            target = safe_join(root, rel)
            content = plan[rel]
            if content is None:
                if target.exists():
                    deletes.append(target)
                continue
            if target.is_symlink() or (target.exists() and not target.is_file()):
                raise FleetError(f"refusing to write over a non-regular file: {rel}")
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(content)
            os.chmod(tmp, 0o644)
            staged.append((Path(tmp), target))
    except BaseException:
        for staged_file, _ in staged:
            staged_file.unlink(missing_ok=True)
        raise
    for staged_file, final in staged:
        os.replace(staged_file, final)
    for gone in deletes:
        gone.unlink(missing_ok=True)
        prune_empty_dirs(gone.parent, root.resolve())


def prune_empty_dirs(start: Path, root: Path) -> None:
    """Remove ``start`` and its parents while they are empty, stopping at ``root``."""
    cur = start
    while cur != root and root in cur.parents:
        try:
            cur.rmdir()
        except OSError:
            return
        cur = cur.parent
