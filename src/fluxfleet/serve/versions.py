"""Which app version a revision carries, read from the repository at that revision (the same
overlay and pins that ``promote`` edits), cached per commit. Only the service's own clone is read."""

from __future__ import annotations

import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from fluxfleet.errors import FleetError
from fluxfleet.fleet.load import load_fleet
from fluxfleet.fleet.placement import place
from fluxfleet.gitrepo import tree
from fluxfleet.gitrepo.git import Git
from fluxfleet.promote.state import app_envs, env_state

Versions = dict[tuple[str, str], str | None]  # (app, cluster) -> version


def versions_in(repo: Path) -> Versions:
    """Every app's version per cluster in the tree at ``repo``."""
    fleet = load_fleet(repo)
    placement = place(fleet)
    out: Versions = {}
    for app in fleet.apps:
        if not app.image:
            continue
        for env in app_envs(fleet, placement, app.name):
            state = env_state(repo, fleet, placement, app.name, env)
            for cluster, version in state.cluster_versions().items():
                out[(app.name, cluster)] = version
    return out


class VersionIndex:
    def __init__(self, repo: Path, size: int = 64) -> None:
        self.repo = repo
        self._size = size
        self._cache: OrderedDict[str, Versions | None] = OrderedDict()
        self._lock = threading.Lock()

    def head(self) -> tuple[str, int]:
        out = Git(self.repo).out("show", "-s", "--format=%H %ct", "HEAD")
        sha, when = out.split()
        return sha, int(when)

    def at(self, commit: str) -> Versions | None:
        """Versions at ``commit``; None when the clone does not have it (yet) or it has no fleet."""
        with self._lock:
            if commit in self._cache:
                self._cache.move_to_end(commit)
                return self._cache[commit]
        try:
            sha = tree.resolve(self.repo, commit)
            # The revision's files laid out privately: the overlays are read as promote reads them.
            with tempfile.TemporaryDirectory(prefix="fluxfleet-versions-") as tmp:
                root = Path(tmp)
                for rel, data in tree.read_files(self.repo, sha).items():
                    target = root / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
                found: Versions | None = versions_in(root)
        except FleetError:
            found = None
        with self._lock:
            self._cache[commit] = found
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return found
