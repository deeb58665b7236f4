"""A Workspace: the repository tree at one revision plus the fleet loaded from it once.

Everything a command reads comes through it, so a check, a diff side or a promotion preview reads
the revision it is about (the working tree, a commit, or a commit with edits applied in memory)
and never another copy on disk.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from fluxfleet.errors import FleetError
from fluxfleet.fleet.load import FLEET_FILE, load_fleet
from fluxfleet.render.discover import ClusterLayout, ClusterPlace
from fluxfleet.render.files import FileTree, MemoryTree, norm

if TYPE_CHECKING:
    from fluxfleet.fleet.load import Fleet


class Workspace:
    """One revision of a fleet repository.

    ``root`` is the repository folder on disk (relative ``--source`` paths and tools resolve
    against it); ``tree`` serves the files of the revision; ``revision`` is the commit id the tree
    is exactly (renders of commits are cached under it), None for anything else. A working-tree workspace loads
    fleet.yaml from disk (an explicit ``fleet_file`` is honoured); any other tree loads it from
    the tree itself.
    """

    def __init__(
        self,
        root: Path,
        tree: FileTree | None = None,
        *,
        revision: str | None = None,
        label: str | None = None,
        fleet_file: Path | None = None,
    ) -> None:
        self.root = root.resolve()
        self.on_disk = tree is None
        self.tree = tree if tree is not None else FileTree(self.root)
        self.revision = revision
        self.label = label or (revision[:12] if revision else "working tree")
        self.fleet_file = fleet_file
        self._fleet: Fleet | None = None

    @classmethod
    def open(cls, root: Path, revision: str | None = None, *, fleet_file: Path | None = None) -> Workspace:
        """The working tree of ``root`` (``revision`` None) or the tree of a commit, read from git."""
        if revision is None:
            return cls(root, fleet_file=fleet_file)
        from fluxfleet.gitrepo.tree import read_files, resolve, toplevel

        top = toplevel(root)
        commit = resolve(top, revision)
        sub = root.resolve().relative_to(top.resolve()).as_posix()
        files = read_files(top, commit, "" if sub == "." else sub)
        return cls(
            root, MemoryTree(files, root.resolve()), revision=commit, label=f"{revision} ({commit[:12]})"
        )

    @classmethod
    def from_files(
        cls, root: Path, files: Mapping[str, str | bytes], *, label: str = "in memory"
    ) -> Workspace:
        """A revision held only in memory (``root`` names it; nothing is read from there)."""
        return cls(root, MemoryTree({}, root.resolve()), label=label).with_edits(files, label=label)

    def with_edits(self, edits: Mapping[str, str | bytes | None], *, label: str | None = None) -> Workspace:
        """This revision with files written (or deleted, for None) in memory; the disk is untouched."""
        files = self.files()
        for rel, content in edits.items():
            key = norm(rel)
            if key is None or key == "":
                raise FleetError(f"path {rel!r} escapes the repository root")
            if content is None:
                files.pop(key, None)
            else:
                files[key] = content.encode() if isinstance(content, str) else content
        # No revision: an edited tree is no commit, and must never be cached as one.
        return Workspace(self.root, MemoryTree(files, self.root), label=label or f"{self.label} + edits")

    def read_text(self, rel: str) -> str:
        """A UTF-8 file of the revision (FleetError when it is absent or not text)."""
        key = norm(rel)
        try:
            if key is None:
                raise FileNotFoundError(rel)
            return self.tree.read(key)[0].decode("utf-8")
        except (OSError, UnicodeDecodeError):
            raise FleetError(f"cannot read {rel!r} in {self.label}", file=rel) from None

    def files(self) -> dict[str, bytes]:
        """Every regular file of the revision (root-relative POSIX path -> content)."""
        if isinstance(self.tree, MemoryTree):
            return self.tree.snapshot()
        return {rel: self.tree.read(rel)[0] for rel in self.tree.walk_files("")}

    # -- the fleet, loaded once ------------------------------------------------------------

    @property
    def has_fleet(self) -> bool:
        if self.on_disk:
            if self.fleet_file is not None:
                return self.fleet_file.is_file()
            # A fleet.yaml the tree refuses (a link, a FIFO) is still one: loading it says why.
            path = self.root / FLEET_FILE
            return path.is_symlink() or path.exists()
        return self.tree.is_file(FLEET_FILE)

    @property
    def fleet(self) -> Fleet:
        """The fleet of this revision (FleetError when it has none or it is invalid)."""
        if self._fleet is None:
            self._fleet = (
                load_fleet(self.root, self.fleet_file)
                if self.on_disk
                else load_fleet(self.root, files=self.tree)
            )
        return self._fleet

    def fleet_or_none(self) -> Fleet | None:
        return self.fleet if self.has_fleet else None

    def layout(self) -> ClusterLayout | None:
        """The fleet's clusters and source folders, as render takes them (None without a fleet)."""
        fleet = self.fleet_or_none()
        if fleet is None:
            return None
        return layout_of(fleet)

    def path_exists(self, rel: str) -> bool:
        """Whether a repository path exists in this revision (paths leaving the root do not)."""
        key = norm(rel.removeprefix("./"))
        return key is not None and self.tree.exists(key)


def layout_of(fleet: Fleet) -> ClusterLayout:
    from fluxfleet.generate.layout import cluster_dirs

    dirs = cluster_dirs(fleet)
    return ClusterLayout(
        tuple(ClusterPlace(c.name, dirs[c.name], dict(c.labels)) for c in fleet.clusters),
        dict(fleet.sources),
        FLEET_FILE,
    )
