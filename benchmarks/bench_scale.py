"""Scaling: render 10 / 100 / 1,000 clusters cold and warm for both fleet shapes, and check throughput.

Two shapes: the synthetic shared-folder fleet (``synth.fleet_yaml``: clusters share overlays) and
the example fleet repeated (``synth.example_fleet_yaml``: every cluster its own folder, as
``generate`` writes a real fleet). Each size renders once with an empty build cache (cold) and once
more with the cache it filled (warm), in a new session each time, as two CLI runs would. ``check``
throughput is counted per cluster-object on the largest generated render, with every built-in rule
and a repository on disk (so ``sops-*`` and ``flux-path-missing`` read what they read for a user).
Set ``FLUXFLEET_BENCH_SIZES`` (e.g. ``10,100,1000,5000``) to change the sizes.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.synth import write_example_fleet, write_fleet
from fluxfleet.check.context import CheckOptions
from fluxfleet.check.engine import run_checks
from fluxfleet.check.schemas import SchemaStore
from fluxfleet.cli.main import main as cli
from fluxfleet.fsutil import safe_join
from fluxfleet.render.api import RenderOptions, RenderSession
from fluxfleet.render.model import ClusterRender


def _generate(repo: Path) -> Path:
    with contextlib.redirect_stdout(io.StringIO()):
        if cli(["generate", "-C", str(repo)]) != 0:
            raise RuntimeError(f"fluxfleet generate failed in {repo}")
    return repo


def _render(repo: Path, cache: Path) -> tuple[float, list[ClusterRender], dict[str, int]]:
    start = time.perf_counter()
    with RenderSession(RenderOptions(cache_dir=cache)) as session:
        renders = session.render(repo)
    return time.perf_counter() - start, renders, dict(session.builder.stats)


def main() -> list[str]:
    # The example fleet's charts live on public chart repositories: time fluxfleet, not the network.
    os.environ.setdefault("FLUXFLEET_OFFLINE", "1")
    sizes = [int(n) for n in os.environ.get("FLUXFLEET_BENCH_SIZES", "10,100,1000").split(",")]
    work = Path(tempfile.mkdtemp(prefix="fluxfleet-bench-scale-"))
    lines: list[str] = []
    try:
        largest: list[ClusterRender] = []
        largest_repo = work
        for shape, write in (
            ("shared folders", lambda p, n: write_fleet(p, n, 8)),
            ("generated", write_example_fleet),
        ):
            times: dict[int, tuple[float, float]] = {}
            for n in sizes:
                repo = _generate(write(work / f"{shape[:3]}{n}", n))
                cold, _, stats = _render(repo, work / f"cache-{shape[:3]}{n}")
                warm, renders, _ = _render(repo, work / f"cache-{shape[:3]}{n}")
                times[n] = (cold, warm)
                lines.append(
                    f"{shape}, {n} clusters: cold {cold:.2f}s, warm {warm:.2f}s "
                    f"({stats.get('kustomize', 0)} kustomize runs, {stats.get('in-process', 0)} in-process builds)"
                )
                if shape == "generated" and n == max(sizes):
                    largest, largest_repo = renders, repo
            small, big = min(sizes), max(sizes)
            lines.append(
                f"{shape}: {big}/{small} clusters cold {times[big][0] / times[small][0]:.1f}x, "
                f"warm {times[big][1] / times[small][1]:.1f}x"
            )
        objects = sum(len(r.objects) for r in largest)

        def exists(rel: str) -> bool:
            return safe_join(largest_repo, rel.removeprefix("./") or ".").exists()

        options = CheckOptions(schemas=SchemaStore(), repo=largest_repo, path_exists=exists)
        start = time.perf_counter()
        result = run_checks(largest, options)
        elapsed = time.perf_counter() - start
        lines.append(
            f"check, {len(largest)} generated clusters: {objects:,} cluster-objects in {elapsed:.2f}s "
            f"-> {objects / elapsed:,.0f} cluster-objects/s ({len(result.findings)} findings)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return lines


if __name__ == "__main__":
    for line in main():
        print(line)
