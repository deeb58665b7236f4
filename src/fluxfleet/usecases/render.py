"""Use cases over renders: ``build`` (render a workspace), ``check`` and ``diff``.

Each takes a typed request holding its Workspace(s) and returns a typed result; none prints.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from fluxfleet.check.engine import run_checks
from fluxfleet.check.model import CheckResult
from fluxfleet.diff.compare import DiffResult, compare
from fluxfleet.errors import FleetError
from fluxfleet.render.api import RenderOptions, RenderSession
from fluxfleet.render.discover import LAYOUTS
from fluxfleet.render.model import ClusterRender, RenderError
from fluxfleet.usecases.checks import CheckSettings, CheckSetup
from fluxfleet.usecases.workspace import Workspace


class Progress(Protocol):
    """Told when a step is done (a progress bar on a terminal; nothing elsewhere)."""

    def advance(self, n: int = 1) -> None: ...


@dataclass(frozen=True)
class BuildRequest:
    workspace: Workspace
    clusters: tuple[str, ...] = ()  # only these (all when empty)
    paths: tuple[str, ...] = ()  # render these folders as clusters instead of the declared ones
    options: RenderOptions = field(default_factory=RenderOptions)


@dataclass(frozen=True)
class BuildResult:
    renders: list[ClusterRender]

    @property
    def errors(self) -> list[RenderError]:
        return [e for r in self.renders for e in r.errors]


def render_workspace(
    session: RenderSession, ws: Workspace, clusters: Sequence[str] = (), paths: Sequence[str] = ()
) -> list[ClusterRender]:
    """The one way to render a revision: the workspace's tree and the layout of its fleet."""
    return session.render(
        ws.root,
        names=list(clusters) or None,
        paths=list(paths) or None,
        source_root=ws.root,
        tree=ws.tree,
        layout=None if paths else ws.layout(),
    )


def build_workspace(request: BuildRequest) -> BuildResult:
    """Render every cluster of the workspace (a FleetError when there is none)."""
    ws = request.workspace
    with RenderSession(request.options) as session:
        renders = render_workspace(session, ws, request.clusters, request.paths)
    if not renders:
        raise FleetError(
            "no clusters found",
            file=str(ws.root),
            hint="looked for: " + "; ".join(LAYOUTS) + ". Add one of these, or pass --path",
        )
    return BuildResult(renders)


@dataclass(frozen=True)
class CheckRequest:
    workspace: Workspace
    clusters: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()  # only these rules (all when empty)
    settings: CheckSettings = field(default_factory=CheckSettings)
    options: RenderOptions = field(default_factory=RenderOptions)
    base: Workspace | None = None  # also judge the change from this revision (flux-self-removal)


@dataclass(frozen=True)
class CheckOutcome:
    result: CheckResult
    setup: CheckSetup
    renders: list[ClusterRender] = field(default_factory=list)

    @property
    def failing(self) -> bool:
        return bool(self.result.failing(self.setup.threshold))


def check_workspace(request: CheckRequest) -> CheckOutcome:
    """Render the workspace and run the rules with the team's policies."""
    ws = request.workspace
    setup = CheckSetup.for_workspace(ws, request.settings)
    render_options = request.options
    kube = str(setup.kubernetes_version or "")
    if render_options.kube_version is None and re.fullmatch(r"v?[0-9]+\.[0-9]+(\.[0-9]+)?", kube):
        # charts see the Kubernetes version the checks assume (.Capabilities.KubeVersion)
        render_options = replace(render_options, kube_version=kube)
    renders = build_workspace(BuildRequest(ws, request.clusters, request.paths, render_options)).renders
    options = setup.options(ws)
    if request.base is not None:
        with RenderSession(render_options) as session:
            baseline = render_stored(session, request.base, request.paths)
        options.baseline = {r.cluster: r for r in baseline}
    result = run_checks(renders, options, only=list(request.rules) or None)
    return CheckOutcome(result, setup, renders)


@dataclass(frozen=True)
class DiffRequest:
    base: Workspace
    head: Workspace
    clusters: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    options: RenderOptions = field(default_factory=RenderOptions)


@dataclass(frozen=True)
class DiffOutcome:
    result: DiffResult
    base: list[ClusterRender]
    head: list[ClusterRender]

    @property
    def head_errors(self) -> list[RenderError]:
        return [e for r in self.head for e in r.errors]

    @property
    def new_errors(self) -> list[RenderError]:
        """Render errors the change introduces (one already broken at the base does not count)."""
        known = {(e.cluster, e.kustomization, e.message) for r in self.base for e in r.errors}
        return [e for e in self.head_errors if (e.cluster, e.kustomization, e.message) not in known]


def diff_workspaces(request: DiffRequest, *, progress: Progress | None = None) -> DiffOutcome:
    """Render both revisions in one session (unchanged clusters are reused) and compare them."""
    from fluxfleet.generate.layout import kustomization_teams

    base_ws, head_ws = request.base, request.head
    with RenderSession(request.options) as session:
        base = render_stored(session, base_ws, request.paths)
        if progress is not None:
            progress.advance()
        head = render_workspace(session, head_ws, request.clusters, request.paths)
        if progress is not None:
            progress.advance()
    if request.clusters:
        wanted = set(request.clusters)
        base = [r for r in base if r.cluster in wanted]
    fleet = head_ws.fleet_or_none()
    teams = kustomization_teams(fleet) if fleet is not None else {}
    result = compare(
        base,
        head,
        base_label=base_ws.label,
        head_label=head_ws.label,
        team_of=lambda ks: teams.get(ks or ""),
    )
    return DiffOutcome(result, base, head)


def render_stored(session: RenderSession, ws: Workspace, paths: Sequence[str]) -> list[ClusterRender]:
    """A committed revision's render, from the user's render cache when it was stored before."""
    if ws.revision is None:
        return render_workspace(session, ws, (), paths)
    prefix = _prefix(ws.root)
    key = session.revision_key(ws.revision, prefix, None, list(paths) or None)
    cached = session.load_revision(key)
    if cached is not None:
        return cached
    renders = render_workspace(session, ws, (), paths)
    session.save_revision(key)
    return renders


def _prefix(root: Path) -> str:
    from fluxfleet.gitrepo.tree import toplevel

    sub = root.resolve().relative_to(toplevel(root).resolve()).as_posix()
    return "" if sub == "." else sub
