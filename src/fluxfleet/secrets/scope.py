"""Which environments a file in the repository is deployed to, judged from its path alone.

A cluster folder belongs to its cluster's environment; ``<app>/overlays/<env>/`` to that
environment; the rest of an app or platform component folder to every environment it is placed in.
This is what ``.sops.yaml`` and ``secrets encrypt`` use to pick recipients, before anything is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from fluxfleet.fleet.load import Fleet
from fluxfleet.fleet.model import App
from fluxfleet.fleet.placement import Placement
from fluxfleet.generate.layout import cluster_dirs


@dataclass(frozen=True)
class Scope:
    prefix: str  # repository-relative folder, without a trailing slash
    envs: tuple[str, ...]  # in fleet (promotion) order
    why: str

    def contains(self, relpath: str) -> bool:
        return relpath.startswith(self.prefix + "/")


def _ordered(fleet: Fleet, envs: set[str]) -> tuple[str, ...]:
    return tuple(e for e in fleet.env_names if e in envs)


def scopes(fleet: Fleet, placement: Placement) -> list[Scope]:
    """Every folder with a known set of environments, most specific (longest) first."""
    out: dict[str, Scope] = {}
    for cluster_name, folder in cluster_dirs(fleet).items():
        env = fleet.cluster(cluster_name).environment
        out[folder] = Scope(folder, (env,), f"cluster {cluster_name}")
    for workload in fleet.workloads:
        envs = {fleet.cluster(c).environment for c in placement.placed[workload.name]}
        kind = "app" if isinstance(workload, App) else "platform component"
        root = workload.repo_path
        if envs and root not in out:
            out[root] = Scope(root, _ordered(fleet, envs), f"{kind} {workload.name}")
        if kind == "app":
            for env in fleet.env_names:
                overlay = f"{root}/overlays/{env}"
                out.setdefault(overlay, Scope(overlay, (env,), f"app {workload.name}, overlay {env}"))
    return sorted(out.values(), key=lambda s: (-len(PurePosixPath(s.prefix).parts), s.prefix))


def scope_of(fleet: Fleet, placement: Placement, relpath: str) -> Scope | None:
    """The most specific scope containing ``relpath`` (repository-relative, '/'-separated)."""
    clean = relpath.removeprefix("./")
    for scope in scopes(fleet, placement):
        if scope.contains(clean):
            return scope
    return None
