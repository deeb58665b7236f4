"""A persistent, content-addressed cache of kustomize builds.

Entries live under the user's cache directory (``platformdirs``), one JSON file per build key. The
key covers the engine and its version, the build path, the kustomization as edited by Flux and the
content hash of every input file, so an entry can never be stale; nothing is ever invalidated.
Writes are atomic (temp file + rename); a damaged or unreadable entry counts as a miss. The cache
never holds decrypted data: builds see the files as committed (SOPS values stay encrypted).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import platformdirs

FORMAT = "v1"


def default_dir() -> Path:
    return Path(platformdirs.user_cache_dir("fluxfleet")) / f"kustomize-{FORMAT}"


class BuildCache:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_dir()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".entry.", dir=target.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(value, fh, separators=(",", ":"))
            os.replace(tmp, target)
        except OSError:
            return  # a cache that cannot be written only costs speed
