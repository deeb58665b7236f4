"""Where an app stands in one environment: the overlay's version, the clusters it is placed on,
per-cluster pins of a rollout in progress, and how the clusters split into waves (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fluxfleet import yamlio
from fluxfleet.errors import FleetError
from fluxfleet.fleet.load import Fleet
from fluxfleet.fleet.model import App
from fluxfleet.fleet.placement import Placement
from fluxfleet.fsutil import safe_join
from fluxfleet.promote.yamledit import image_tag


def overlay_path(app: App, env: str) -> str:
    return f"{app.repo_path}/overlays/{env}/kustomization.yaml"


def require_image(app: App) -> str:
    if not app.image:
        raise FleetError(
            f"app {app.name!r} declares no image",
            field="spec.apps.images",
            hint="list the image whose tag fluxfleet promotes, e.g. images: [ghcr.io/acme/myapp]",
        )
    return app.image


@dataclass(frozen=True)
class WaveSlice:
    """One wave as it applies to one app: the clusters it covers, in fleet order."""

    name: str
    index: int  # 1-based
    total: int
    clusters: tuple[str, ...]
    soak: str | None = None
    selector: str = "<all clusters>"

    @property
    def label(self) -> str:
        return f"{self.name} {self.index}/{self.total}"


@dataclass(frozen=True)
class EnvState:
    app: str
    env: str
    overlay: str
    version: str | None  # the overlay's tag: what every unpinned cluster runs
    clusters: tuple[str, ...]  # where the app is placed in this environment, fleet order
    pins: dict[str, str] = field(default_factory=dict)  # cluster -> tag, this environment only
    waves: tuple[WaveSlice, ...] = ()

    def cluster_versions(self) -> dict[str, str | None]:
        return {c: self.pins.get(c, self.version) for c in self.clusters}

    @property
    def rolling_out(self) -> str | None:
        """The version a wave rollout is pinning, when one is in progress."""
        values = sorted(set(self.pins.values()))
        if len(values) > 1:
            raise FleetError(
                f"{self.app} has pins for several versions in {self.env}: {', '.join(values)}",
                file="fleet.yaml",
                field="spec.apps.pins",
                hint=f"roll back with `fluxfleet rollback {self.app} --env {self.env}` to clear them",
            )
        return values[0] if values else None

    @property
    def waves_done(self) -> int:
        """Leading waves whose clusters all carry the rollout's version."""
        target = self.rolling_out
        done = 0
        for wave in self.waves:
            if target is None or any(self.pins.get(c) != target for c in wave.clusters):
                break
            done += 1
        return done

    @property
    def next_wave(self) -> WaveSlice | None:
        return self.waves[self.waves_done] if self.waves_done < len(self.waves) else None


def slice_waves(fleet: Fleet, env: str, clusters: tuple[str, ...]) -> tuple[WaveSlice, ...]:
    """Split ``clusters`` into the environment's waves, dropping waves that cover none of them.

    Clusters no wave selects join the last wave: the final step writes the overlay, which every
    unpinned cluster follows, so none is silently left behind.
    """
    promotion = fleet.env(env).promotion
    waves = promotion.waves
    if not waves:
        return (WaveSlice("all", 1, 1, clusters),)
    remaining = list(clusters)
    slices: list[tuple[str, list[str], str | None, str]] = []
    for wave in waves:
        taken = [c for c in remaining if wave.selector.matches(fleet.cluster(c).labels)]
        remaining = [c for c in remaining if c not in taken]
        if taken:
            slices.append((wave.name, taken, promotion.wave_soak(wave), wave.selector.describe()))
    if remaining:
        if slices:
            slices[-1][1].extend(remaining)
        else:
            slices.append(
                (waves[-1].name, remaining, promotion.wave_soak(waves[-1]), waves[-1].selector.describe())
            )
    order = {c: i for i, c in enumerate(clusters)}
    total = len(slices)
    return tuple(
        WaveSlice(name, i + 1, total, tuple(sorted(cs, key=order.__getitem__)), soak, sel)
        for i, (name, cs, soak, sel) in enumerate(slices)
    )


def read_overlay(repo: Path, app: App, env: str) -> tuple[str, str]:
    """(path, text) of the app's overlay for ``env``; a clear error when it is missing."""
    rel = overlay_path(app, env)
    target = safe_join(repo, rel)
    if not target.is_file():
        raise FleetError(
            f"{app.name} has no overlay for {env}",
            file=rel,
            hint="run `fluxfleet generate` to scaffold it (and commit it)",
        )
    return rel, yamlio.read_text(target, display=rel)


def env_state(repo: Path, fleet: Fleet, placement: Placement, app_name: str, env: str) -> EnvState:
    app = fleet.app(app_name)
    fleet.env(env)
    image = require_image(app)
    clusters = tuple(c for c in placement.placed[app.name] if fleet.cluster(c).environment == env)
    if not clusters:
        raise FleetError(
            f"{app.name} is not placed on any cluster of {env}",
            field="spec.apps.placement",
            hint=f"its placement selects: {', '.join(placement.placed[app.name]) or 'no cluster'}",
        )
    rel, text = read_overlay(repo, app, env)
    version = image_tag(text, image, rel)
    pins = {c: v for c, v in app.pins.items() if c in clusters}
    return EnvState(app.name, env, rel, version, clusters, pins, slice_waves(fleet, env, clusters))


def app_envs(fleet: Fleet, placement: Placement, app_name: str) -> list[str]:
    """Environments the app is placed in, in promotion order."""
    envs = {fleet.cluster(c).environment for c in placement.placed[app_name]}
    return [e for e in fleet.env_names if e in envs]
