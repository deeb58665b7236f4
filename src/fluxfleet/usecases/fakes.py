"""Recording and in-memory adapters for unit tests of code that calls the use cases.

They stand in for the outside world where a test wants to see what was asked of it: the
kustomize engine (records each build, delegates to a real engine), sops (answers from a table),
the clock (:class:`~fluxfleet.usecases.clock.FixedClock`) and git (a Workspace built from files in
memory, :meth:`Workspace.from_files`, or over a :class:`RecordingTree` that counts what is read).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fluxfleet.render.engine import Engine, locate
from fluxfleet.render.files import MemoryTree


@dataclass(frozen=True)
class RecordingEngine(Engine):
    """The real kustomize engine, recording the folder of every build it runs."""

    builds: list[str] = field(default_factory=list, compare=False)

    @classmethod
    def wrapping(cls, engine: Engine | None = None) -> RecordingEngine:
        real = engine or locate()
        return cls(real.binary, real.kind, real.version)

    def build(self, directory: Path, *, root: Path | None = None, root_only: bool = False) -> str:
        self.builds.append(directory.name)
        return super().build(directory, root=root, root_only=root_only)


@dataclass
class RecordingSops:
    """A sops adapter for ``CheckOptions.sops_verify``: answers from ``problems`` (path -> why it
    does not open; absent: it opens) and records (path, sha256 of the content) of every call."""

    problems: Mapping[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, rel: str, data: bytes) -> str | None:
        self.calls.append((rel, hashlib.sha256(data).hexdigest()))
        return self.problems.get(rel)


class RecordingTree(MemoryTree):
    """A revision in memory that counts how often each file is read (``reads[path]``)."""

    def __init__(self, files: dict[str, bytes], root: Path) -> None:
        super().__init__(files, root)
        self.reads: Counter[str] = Counter()

    def read(self, rel: str) -> tuple[bytes, str]:
        self.reads[rel] += 1
        return super().read(rel)
