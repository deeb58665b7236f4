"""Compare a GeneratePlan with the repository and write the difference, honouring ownership.

- A planned file that exists without the header is the user's: left alone and reported.
- A file with the header that the plan no longer contains is orphaned and deleted.
- Scaffold folders are created only when absent.

Speed: a small state file (outside the repository, in the user cache) remembers size, mtime and
content digest of every generated file as last written or verified. A file whose size and mtime
still match needs no read: comparing digests of the planned content is enough, as git's index
does. Anything that does not match is read and compared byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_cache_dir

from fluxfleet.fsutil import safe_join
from fluxfleet.generate import txn
from fluxfleet.generate.layout import HEADER_PREFIX
from fluxfleet.generate.plan import GeneratePlan

_SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", txn.TXN_DIR}
_STATE_VERSION = 1

Stat = tuple[int, int]  # size, mtime_ns


@dataclass
class Changes:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    scaffolded: list[str] = field(default_factory=list)
    user_owned: list[str] = field(default_factory=list)
    unchanged: int = 0
    stray: list[str] = field(default_factory=list)  # temp files of an interrupted write, removed
    interrupted: bool = False  # an interrupted transaction waits to be finished or undone

    @property
    def pending(self) -> bool:
        return bool(
            self.created or self.updated or self.deleted or self.scaffolded or self.stray or self.interrupted
        )

    def writes(self, plan: GeneratePlan) -> dict[str, str | None]:
        files: dict[str, str | None] = {p: plan.generated[p] for p in (*self.created, *self.updated)}
        files.update({p: None for p in self.deleted})
        scaffolded = set(self.scaffolded)
        for scaffold_files in plan.scaffolds.values():
            files.update({p: c for p, c in scaffold_files.items() if p in scaffolded})
        return files

    def as_dict(self) -> dict[str, object]:
        return {
            "created": self.created,
            "updated": self.updated,
            "deleted": self.deleted,
            "scaffolded": self.scaffolded,
            "userOwned": self.user_owned,
            "unchanged": self.unchanged,
            "strayTempFiles": self.stray,
            "interrupted": self.interrupted,
        }


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def _state_path(repo: Path) -> Path:
    key = hashlib.sha256(str(repo).encode()).hexdigest()[:24]
    return Path(user_cache_dir("fluxfleet")) / "generate" / f"{key}.json"


def _load_state(repo: Path) -> dict[str, list[object]]:
    try:
        data = json.loads(_state_path(repo).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != _STATE_VERSION:
        return {}
    files = data.get("files")
    return files if isinstance(files, dict) else {}


def _save_state(repo: Path, files: dict[str, list[object]]) -> None:
    path = _state_path(repo)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": _STATE_VERSION, "files": files}, separators=(",", ":")))
        os.replace(tmp, path)
    except OSError:
        pass  # the state only saves time; without it the next run reads the files


def _scan(repo: Path, stray: list[str] | None = None) -> dict[str, Stat]:
    """Every regular *.yaml/*.yml file under ``repo`` (symlinks skipped) with size and mtime.

    ``stray`` collects temp files an interrupted writer left behind.
    """
    found: dict[str, Stat] = {}
    stack = [(str(repo), "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in _SKIP_DIRS:
                    stack.append((entry.path, f"{prefix}{entry.name}/"))
            elif (
                stray is not None and txn.STRAY_TMP.match(entry.name) and entry.is_file(follow_symlinks=False)
            ):
                stray.append(prefix + entry.name)
            elif entry.name.endswith((".yaml", ".yml")) and entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                found[prefix + entry.name] = (st.st_size, st.st_mtime_ns)
    return found


def _read(repo: Path, rel: str) -> str | None:
    try:
        return (repo / rel).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _known(state: dict[str, list[object]], rel: str, stat: Stat) -> str | None:
    """The recorded digest of ``rel`` when the file is still as fluxfleet last saw it."""
    entry = state.get(rel)
    if entry and len(entry) == 3 and entry[0] == stat[0] and entry[1] == stat[1]:
        return str(entry[2])
    return None


def compute_changes(repo: Path, plan: GeneratePlan) -> Changes:
    repo = repo.resolve()
    stray: list[str] = []
    files = _scan(repo, stray)
    state = _load_state(repo)
    changes = Changes(stray=sorted(stray), interrupted=txn.pending(repo))
    for path, content in plan.generated.items():
        stat = files.get(path)
        if stat is None:
            target = safe_join(repo, path)
            if target.exists() or target.is_symlink():
                changes.user_owned.append(path)
            else:
                changes.created.append(path)
            continue
        known = _known(state, path, stat)
        if known is not None:
            if known == _digest(content):
                changes.unchanged += 1
            else:
                changes.updated.append(path)
            continue
        current = _read(repo, path)
        if current is None or not current.startswith(HEADER_PREFIX):
            changes.user_owned.append(path)
        elif current == content:
            changes.unchanged += 1
        else:
            changes.updated.append(path)
    for path, stat in files.items():
        if path in plan.generated:
            continue
        if _known(state, path, stat) is not None:
            changes.deleted.append(path)
            continue
        current = _read(repo, path)
        if current is not None and current.startswith(HEADER_PREFIX):
            changes.deleted.append(path)
    changes.deleted.sort()
    for folder, scaffold_files in plan.scaffolds.items():
        if not safe_join(repo, folder).exists():
            changes.scaffolded.extend(sorted(scaffold_files))
    return changes


def apply_changes(repo: Path, plan: GeneratePlan, changes: Changes) -> None:
    writes = changes.writes(plan)
    if writes:
        txn.write(repo, writes)
    txn.remove_stray(repo.resolve(), changes.stray)


def remember(repo: Path, plan: GeneratePlan, changes: Changes) -> None:
    """Record what the generated files look like now, so the next run can skip reading them."""
    repo = repo.resolve()
    files = _scan(repo)
    user_owned = set(changes.user_owned)
    state: dict[str, list[object]] = {}
    for path, content in plan.generated.items():
        stat = files.get(path)
        if stat is not None and path not in user_owned:
            state[path] = [stat[0], stat[1], _digest(content)]
    _save_state(repo, state)
