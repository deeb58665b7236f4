"""``generate`` writes as one transaction: a kill at any moment leaves the tree wholly old or,
after the next run, wholly new.

Protocol, all inside the repository (renames stay on one filesystem, so each is atomic):

1. every new file is staged in ``.fluxfleet-txn/files/`` (the folder is created exclusively);
2. ``.fluxfleet-txn/journal.json`` names the writes and deletes and is renamed into place: the
   commit point;
3. staged files are renamed over their targets, deletions made, and the folder removed.

The next run (or ``recover``) finds the folder: with a journal it rolls forward (finishes step 3),
without one it rolls back (removes the staging). A journal is honoured only when it carries the
token this machine recorded outside the repository when it wrote it: a ``.fluxfleet-txn`` that
arrives with a pull request is refused, never replayed (it could name any path to write).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from platformdirs import user_state_dir

from fluxfleet.errors import FleetError
from fluxfleet.fsutil import prune_empty_dirs, safe_join

TXN_DIR = ".fluxfleet-txn"
_JOURNAL = "journal.json"
_FILES = "files"
_VERSION = 1

# Temp files of the earlier non-transactional writer: `.<name>.<8 random chars>.tmp` (mkstemp).
STRAY_TMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")

# Tests stop the process at a measured point: "staging:N" / "rename:N" = SIGKILL after N files.
_KILL_ENV = "FLUXFLEET_TEST_KILL_AT"


def _kill_point(phase: str, done: int) -> None:
    wanted = os.environ.get(_KILL_ENV)
    if wanted and wanted == f"{phase}:{done}":
        os.kill(os.getpid(), signal.SIGKILL)


def _token_path(repo: Path) -> Path:
    import hashlib

    key = hashlib.sha256(str(repo).encode()).hexdigest()[:24]
    return Path(user_state_dir("fluxfleet")) / "generate-txn" / f"{key}.token"


def _checked(rel: str) -> PurePosixPath:
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts or ".git" in pure.parts or pure.parts[:1] == (TXN_DIR,):
        raise FleetError(f"refusing to write {rel!r}", file=f"{TXN_DIR}/{_JOURNAL}")
    return pure


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _txn_dir(repo: Path) -> Path:
    folder = repo / TXN_DIR
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise FleetError(
            f"{TXN_DIR} is not a folder fluxfleet made",
            file=TXN_DIR,
            hint=f"remove {TXN_DIR} (it is fluxfleet's staging folder; never commit it)",
        )
    return folder


def pending(repo: Path) -> bool:
    """Whether an interrupted generate left its staging folder."""
    return _txn_dir(repo.resolve()).exists()


def recover(repo: Path) -> str | None:
    """Finish or undo an interrupted transaction: "rolled forward", "rolled back" or None."""
    repo = repo.resolve()
    folder = _txn_dir(repo)
    if not folder.exists():
        return None
    journal_file = folder / _JOURNAL
    if not journal_file.is_file():
        shutil.rmtree(folder)  # killed while staging: nothing was renamed yet
        _token_path(repo).unlink(missing_ok=True)
        return "rolled back"
    try:
        journal = json.loads(journal_file.read_text(encoding="utf-8"))
        token_file = _token_path(repo)
        token = token_file.read_text(encoding="utf-8").strip() if token_file.is_file() else None
    except (OSError, ValueError):
        journal, token = None, None
    if not isinstance(journal, dict) or token is None or journal.get("token") != token:
        raise FleetError(
            f"{TXN_DIR} holds a transaction this machine did not start",
            file=f"{TXN_DIR}/{_JOURNAL}",
            hint=f"remove the {TXN_DIR} folder (it must never be committed), then run generate again",
        )
    writes = journal.get("writes") or []
    deletes = journal.get("deletes") or []
    _finish(repo, folder, [str(w) for w in writes], [str(d) for d in deletes])
    return "rolled forward"


def _finish(repo: Path, folder: Path, writes: list[str], deletes: list[str]) -> None:
    staged_root = folder / _FILES
    for done, rel in enumerate(writes):
        _kill_point("rename", done)
        staged = staged_root / _checked(rel)
        if not staged.is_file():
            continue  # renamed before an interruption
        target = safe_join(repo, rel)
        if target.is_symlink() or (target.exists() and not target.is_file()):
            raise FleetError(f"refusing to write over a non-regular file: {rel}")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
    for rel in deletes:
        _checked(rel)
        gone = safe_join(repo, rel)
        if gone.is_file() and not gone.is_symlink():
            gone.unlink()
            prune_empty_dirs(gone.parent, repo)
    shutil.rmtree(folder)
    _token_path(repo).unlink(missing_ok=True)


def write(repo: Path, plan: Mapping[str, str | None]) -> None:
    """Write (or delete, for ``None``) every file of ``plan`` under ``repo`` as one transaction."""
    repo = repo.resolve()
    recover(repo)
    folder = _txn_dir(repo)
    writes = sorted(p for p, c in plan.items() if c is not None)
    deletes = sorted(p for p, c in plan.items() if c is None)
    for rel in (*writes, *deletes):
        _checked(rel)
        target = safe_join(repo, rel)
        if rel in writes and (target.is_symlink() or (target.exists() and not target.is_file())):
            raise FleetError(f"refusing to write over a non-regular file: {rel}")
    folder.mkdir()  # exclusive: a concurrent generate fails here instead of mixing files
    try:
        for done, rel in enumerate(writes):
            _kill_point("staging", done)
            staged = folder / _FILES / rel
            staged.parent.mkdir(parents=True, exist_ok=True)
            with open(staged, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(str(plan[rel]))
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(staged, 0o644)
        token = secrets.token_hex(16)
        token_file = _token_path(repo)
        token_file.parent.mkdir(parents=True, exist_ok=True)
        token_file.write_text(token, encoding="utf-8")
        tmp = folder / (_JOURNAL + ".tmp")
        tmp.write_text(
            json.dumps({"version": _VERSION, "token": token, "writes": writes, "deletes": deletes}),
            encoding="utf-8",
        )
        with open(tmp, encoding="utf-8") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, folder / _JOURNAL)  # the commit point
        _fsync_dir(folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    _finish(repo, folder, writes, deletes)


def remove_stray(repo: Path, stray: list[str]) -> None:
    for rel in stray:
        target = safe_join(repo, rel)
        if target.is_file() and not target.is_symlink():
            target.unlink()
