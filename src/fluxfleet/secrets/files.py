"""Find the SOPS-encrypted files of a repository and read their metadata (no key needed)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fluxfleet import yamlio
from fluxfleet.errors import FleetError
from fluxfleet.secrets.sops import file_type_of
from fluxfleet.secrets.sopsdoc import SopsInfo, has_marker, raw_info, sops_info

MAX_BYTES = 5 * 1024 * 1024  # kustomize-controller's limit for files it decrypts


@dataclass(frozen=True)
class SopsFile:
    path: str  # repository-relative, '/'-separated
    file_type: str
    info: SopsInfo


def walk_files(repo: Path) -> Iterator[str]:
    """Repository-relative paths of regular files, skipping hidden folders (.git, caches)."""
    root = repo.resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            full = Path(dirpath) / name
            if full.is_symlink() or not full.is_file():
                continue
            yield full.relative_to(root).as_posix()


def read_sops_file(repo: Path, rel: str) -> SopsFile | None:
    """The file's sops metadata, or None when it is not a sops file."""
    full = repo / rel
    try:
        if full.stat().st_size > MAX_BYTES:
            return None
        raw = full.read_bytes()
    except OSError:
        return None
    return sops_file_of(rel, raw)


def sops_file_of(rel: str, raw: bytes) -> SopsFile | None:
    """The sops metadata of a file's content, or None when it is not a sops file."""
    if len(raw) > MAX_BYTES or not has_marker(raw):
        return None
    file_type = file_type_of(rel)
    if file_type == "yaml":
        try:
            docs = yamlio.load_all(raw.decode("utf-8"), rel)
        except (FleetError, UnicodeDecodeError):
            return None
        info = sops_info(docs[0]) if docs and isinstance(docs[0], dict) else None
    else:
        info = raw_info(raw, file_type)
    if info is None or not info.encrypted:
        return None
    return SopsFile(rel, file_type, info)


def sops_files(repo: Path) -> list[SopsFile]:
    out = []
    for rel in walk_files(repo):
        found = read_sops_file(repo, rel)
        if found is not None:
            out.append(found)
    return out
