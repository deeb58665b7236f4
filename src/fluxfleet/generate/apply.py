"""Compare a GeneratePlan with the repository and write the difference, honouring ownership.

- A planned file that exists without the header is the user's: left alone and reported.
- A file with the header that the plan no longer contains is orphaned and deleted.
- Scaffold folders are created only when absent.
One pass over the tree reads each candidate file once, so a no-op run costs little more than
computing the plan.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from fluxfleet.fsutil import safe_join, write_plan
from fluxfleet.generate.layout import HEADER_PREFIX
from fluxfleet.generate.plan import GeneratePlan

_SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__"}


@dataclass
class Changes:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    scaffolded: list[str] = field(default_factory=list)
    user_owned: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def pending(self) -> bool:
        return bool(self.created or self.updated or self.deleted or self.scaffolded)

    def writes(self, plan: GeneratePlan) -> dict[str, str | None]:
        files: dict[str, str | None] = {p: plan.generated[p] for p in (*self.created, *self.updated)}
        files.update({p: None for p in self.deleted})
        for folder, scaffold_files in plan.scaffolds.items():
            for path, content in scaffold_files.items():
                if path in self.scaffolded:
                    files[path] = content
            del folder
        return files

    def as_dict(self) -> dict[str, object]:
        return {
            "created": self.created,
            "updated": self.updated,
            "deleted": self.deleted,
            "scaffolded": self.scaffolded,
            "userOwned": self.user_owned,
            "unchanged": self.unchanged,
        }


def _is_generated(text: str) -> bool:
    return text.startswith(HEADER_PREFIX)


def _existing_generated(repo: Path) -> dict[str, str]:
    """Every file under ``repo`` that starts with the header (path -> content)."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(repo):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS]
        for name in filenames:
            if not name.endswith((".yaml", ".yml")):
                continue
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                continue
            try:
                with open(full, encoding="utf-8") as fh:
                    head = fh.read(len(HEADER_PREFIX))
                    if head != HEADER_PREFIX:
                        continue
                    found[os.path.relpath(full, repo).replace(os.sep, "/")] = head + fh.read()
            except (OSError, UnicodeDecodeError):
                continue
    return found


def compute_changes(repo: Path, plan: GeneratePlan) -> Changes:
    repo = repo.resolve()
    existing = _existing_generated(repo)
    changes = Changes()
    for path, content in plan.generated.items():
        if path in existing:
            if existing[path] == content:
                changes.unchanged += 1
            else:
                changes.updated.append(path)
            continue
        target = safe_join(repo, path)
        if target.exists() or target.is_symlink():
            changes.user_owned.append(path)
        else:
            changes.created.append(path)
    changes.deleted = sorted(p for p in existing if p not in plan.generated)
    for folder, files in plan.scaffolds.items():
        if not safe_join(repo, folder).exists():
            changes.scaffolded.extend(sorted(files))
    return changes


def apply_changes(repo: Path, plan: GeneratePlan, changes: Changes) -> None:
    write_plan(repo, changes.writes(plan))
