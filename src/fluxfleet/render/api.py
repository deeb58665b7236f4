"""Entry points of the renderer: render a repository (or one revision of it) cluster by cluster.

A :class:`RenderSession` owns the build pool, the persistent cache and the memo of post-processed
Kustomizations; rendering two revisions in one session (as ``diff`` does) re-renders only what
changed between them.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fluxfleet.render import spokes
from fluxfleet.render.builder import Builder
from fluxfleet.render.cache import BuildCache
from fluxfleet.render.charts import ChartCache
from fluxfleet.render.charts import default_dir as charts_dir
from fluxfleet.render.discover import ClusterLayout, ClusterSpec, discover
from fluxfleet.render.engine import Engine
from fluxfleet.render.files import FileTree, ParseMemo
from fluxfleet.render.fluxks import Sources, parse_source_mappings
from fluxfleet.render.helm import HelmRenderer
from fluxfleet.render.lines import LineIndex
from fluxfleet.render.model import ClusterRender
from fluxfleet.render.revcache import RevisionCache, revision_key
from fluxfleet.render.walker import Walker


@dataclass(frozen=True)
class RenderOptions:
    strict: bool = True  # Flux 2.9 default (StrictPostBuildSubstitutions)
    use_cache: bool = True
    cache_dir: Path | None = None
    jobs: int | None = None
    sources: tuple[str, ...] = ()  # NAME=PATH items (--source)
    use_fleet: bool = True
    reuse_clusters: bool = True  # reuse an unchanged cluster's render from the session's previous render
    engine: Engine | None = field(default=None, compare=False)
    offline: bool = False  # charts only from the chart cache
    kube_version: str | None = None  # what .Capabilities.KubeVersion says to charts


class RenderSession:
    def __init__(self, options: RenderOptions = RenderOptions()) -> None:
        self.options = options
        cache = BuildCache(options.cache_dir) if options.use_cache else None
        self.builder = Builder(cache=cache, jobs=options.jobs, engine=options.engine)
        # FLUXFLEET_OFFLINE=1 is --offline for every command (a CI that must not reach the network)
        offline = options.offline or os.environ.get("FLUXFLEET_OFFLINE", "") not in ("", "0")
        charts = ChartCache(
            options.cache_dir / "charts" if options.cache_dir else charts_dir(), offline=offline
        )
        self.walker = Walker(
            self.builder,
            strict=options.strict,
            lines=LineIndex(),
            reuse_clusters=options.reuse_clusters,
            helm_renderer=HelmRenderer(
                charts, lambda d: self.builder.engine().build(d), kube_version=options.kube_version
            ),
        )
        self.parsed: ParseMemo = {}  # YAML documents by content hash, shared by this session's trees
        self.revisions = RevisionCache(_revision_dir(options.cache_dir)) if options.use_cache else None
        self._mapped = False  # whether the latest render mapped any source to a folder

    def __enter__(self) -> RenderSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.builder.close()

    def revision_key(
        self, commit: str, subpath: str, names: list[str] | None, paths: list[str] | None
    ) -> str:
        """The key of a committed revision's render with this session's options."""
        from fluxfleet.errors import FleetError

        try:
            engine = self.builder.engine().id
        except FleetError:
            engine = None
        helm = self.walker.helm.helm
        helm_id: list[Any] | None = None
        if helm is not None:
            try:
                info = Path(helm).stat()
                helm_id = [helm, info.st_size, info.st_mtime_ns]
            except OSError:
                helm_id = [helm]
        if helm_id is not None:  # what else shapes chart renders
            helm_id += [self.options.kube_version, self.options.offline]
        return revision_key(
            commit=commit,
            subpath=subpath,
            strict=self.options.strict,
            use_fleet=self.options.use_fleet,
            engine=engine,
            helm=helm_id,
            names=sorted(names) if names is not None else None,
            paths=list(paths) if paths is not None else None,
        )

    def load_revision(self, key: str) -> list[ClusterRender] | None:
        """A stored render of a committed revision; it also becomes the render the next one reuses."""
        if self.revisions is None or self.options.sources:
            return None
        with _collector_paused():  # as a render does: the entry is many small long-lived objects
            entry = self.revisions.get(key)
        if entry is None:
            return None
        context, rendered = entry
        self.walker.seed(context, rendered)
        return [part for r in rendered for part in spokes.split(r.render)]

    def save_revision(self, key: str) -> None:
        """Store the latest render under ``key`` (the render of a committed revision), when allowed."""
        if self.revisions is None or self.options.sources or self._mapped:
            return
        snapshot = self.walker.snapshot()
        if snapshot is not None:
            with _collector_paused():
                self.revisions.put(key, *snapshot)

    def clusters(
        self,
        repo: Path,
        *,
        names: list[str] | None = None,
        paths: list[str] | None = None,
        tree: FileTree | None = None,
        layout: ClusterLayout | None = None,
    ) -> tuple[FileTree, list[ClusterSpec]]:
        if tree is None:
            tree = FileTree(repo, parsed=self.parsed)
        else:
            tree.share_parses(self.parsed)
        if not self.options.use_fleet:
            layout = None
        clusters = discover(tree, repo, paths=paths, names=names, layout=layout)
        return tree, clusters

    def render(
        self,
        repo: Path,
        *,
        names: list[str] | None = None,
        paths: list[str] | None = None,
        source_root: Path | None = None,
        tree: FileTree | None = None,
        layout: ClusterLayout | None = None,
    ) -> list[ClusterRender]:
        """Render the clusters of the repository checked out at ``repo``.

        ``source_root`` resolves relative ``--source`` paths (the user's working tree when ``repo``
        is a temporary checkout of another revision). ``tree`` serves the files instead of ``repo``
        (a revision held in memory). ``layout`` names the declared clusters and source folders
        (without it, clusters are discovered from their flux-system folders).
        """
        with _collector_paused():
            return self._render(repo, names, paths, source_root, tree, layout)

    def _render(
        self,
        repo: Path,
        names: list[str] | None,
        paths: list[str] | None,
        source_root: Path | None,
        tree: FileTree | None,
        layout: ClusterLayout | None,
    ) -> list[ClusterRender]:
        if not self.options.use_fleet:
            layout = None
        tree, clusters = self.clusters(repo, names=names, paths=paths, tree=tree, layout=layout)
        mappings = {}
        if layout is not None:
            mappings.update(
                parse_source_mappings(
                    [f"{k}={v}" for k, v in layout.sources.items()], repo, f"{layout.origin} spec.sources"
                )
            )
        mappings.update(parse_source_mappings(list(self.options.sources), source_root or repo))
        self._mapped = bool(mappings)
        sources = Sources(tree, mappings)
        try:
            return self.walker.render(clusters, sources)
        finally:
            sources.close()  # staged artifacts: the render's objects are already in memory


def _revision_dir(cache_dir: Path | None) -> Path | None:
    """Beside the build cache: its parent when a build cache folder was given, else the default."""
    return None if cache_dir is None else cache_dir / "renders"


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Hold Python's cyclic garbage collector back during a render.

    A render allocates millions of long-lived, acyclic objects (parsed YAML, rendered objects);
    each generational collection rescans all of them, which cost up to a third of a large render.
    Reference counting still frees everything as usual. Afterwards the survivors are moved to the
    oldest generation without a scan (freeze + unfreeze; skipped if someone else froze objects),
    so re-enabling the collector does not scan them all at once either.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()
