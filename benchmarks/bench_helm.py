"""HelmRelease rendering with real helm: 50 HelmReleases sharing 5 charts, cold and warm.

The charts are packaged with helm and served by a chart repository on 127.0.0.1 (the same servers
the tests use). "Cold" starts from an empty chart cache, "warm" reuses it in a new session, and
"offline" is warm with ``--offline``. The figures that matter: charts downloaded once per version,
never once per release, and no download at all when warm.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from tests.render.chart_servers import STAND_IN, http_repo, package

from fluxfleet import yamlio
from fluxfleet.render.api import RenderOptions, RenderSession

RELEASES = 50
CHARTS = 5
PLACEHOLDER = "# This file will be generated automatically by flux bootstrap.\n"


def _repo(root: Path, url: str) -> Path:
    releases: list[dict[str, Any]] = [
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmRepository",
            "metadata": {"name": "charts", "namespace": "flux-system"},
            "spec": {"interval": "1h", "url": url},
        }
    ]
    for i in range(RELEASES):
        releases.append(
            {
                "apiVersion": "helm.toolkit.fluxcd.io/v2",
                "kind": "HelmRelease",
                "metadata": {"name": f"app-{i:02d}", "namespace": f"team-{i % 7}"},
                "spec": {
                    "interval": "10m",
                    "chart": {
                        "spec": {
                            "chart": f"chart-{i % CHARTS}",
                            "version": "1.x",
                            "sourceRef": {
                                "kind": "HelmRepository",
                                "name": "charts",
                                "namespace": "flux-system",
                            },
                        }
                    },
                    "values": {"replicas": i % 3 + 1, "message": f"release {i}"},
                },
            }
        )
    cluster = root / "clusters" / "bench"
    (cluster / "flux-system").mkdir(parents=True)
    (cluster / "flux-system" / "gotk-sync.yaml").write_text(PLACEHOLDER)
    (cluster / "releases.yaml").write_text(yamlio.dump_all(releases))
    return root


def _render(repo: Path, cache: Path, offline: bool = False) -> tuple[float, int, int]:
    start = time.perf_counter()
    with RenderSession(RenderOptions(cache_dir=cache, offline=offline)) as session:
        renders = session.render(repo)
        runs = session.walker.helm.runs
    rendered = sum(1 for r in renders for h in r.helmreleases if h.rendered)
    return time.perf_counter() - start, rendered, runs


def main() -> list[str]:
    work = Path(tempfile.mkdtemp(prefix="fluxfleet-bench-helm-"))
    charts = work / "charts"
    for c in range(CHARTS):
        for version in ("1.0.0", "1.1.0"):
            package(charts, f"chart-{c}", version, template=STAND_IN)
    lines = []
    with http_repo(charts) as server:
        repo = _repo(work / "repo", server.url)
        cache = work / "cache"
        cold, rendered, runs = _render(repo, cache)
        downloads_cold = sum(n for path, n in server.hits.items() if path.endswith(".tgz"))
        warm, rendered_warm, _ = _render(repo, cache)
        downloads_warm = sum(n for path, n in server.hits.items() if path.endswith(".tgz")) - downloads_cold
    offline, rendered_offline, _ = _render(repo, cache, offline=True)
    lines.append(
        f"{RELEASES} HelmReleases sharing {CHARTS} charts (range 1.x -> 1.1.0), helm template runs: {runs}"
    )
    lines.append(
        f"cold (empty chart cache): {cold:.1f}s, {rendered} rendered, {downloads_cold} chart downloads"
    )
    lines.append(
        f"warm (new session):       {warm:.1f}s, {rendered_warm} rendered, {downloads_warm} chart downloads"
    )
    lines.append(f"warm --offline:           {offline:.1f}s, {rendered_offline} rendered, no network")
    return lines
