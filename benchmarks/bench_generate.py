"""Generator cost on a synthetic fleet of 1,000 clusters x 50 apps.

Reports the full generate, a no-op regenerate, and a regenerate after one cluster's labels change,
as ratios of the full run measured in the same process.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.synth import write_fleet
from fluxfleet.generate.run import generate


def _timed(repo: Path) -> tuple[float, int]:
    start = time.perf_counter()
    result = generate(repo)
    changes = result.changes
    return time.perf_counter() - start, len(changes.created) + len(changes.updated) + len(changes.deleted)


def main(clusters: int = 1000, apps: int = 50) -> list[str]:
    work = Path(tempfile.mkdtemp(prefix="fluxfleet-bench-gen-"))
    try:
        repo = write_fleet(work / "repo", clusters, apps)
        full, written = _timed(repo)
        noop, noop_written = _timed(repo)
        fleet = repo / "fleet.yaml"
        fleet.write_text(
            fleet.read_text().replace("{name: c0007, labels: {", "{name: c0007, labels: {zone: z1, ", 1)
        )
        one, one_written = _timed(repo)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [
        f"generate: {clusters} clusters x {apps} apps: full {full:.2f}s ({written} files written)",
        f"generate: no-op regenerate {noop:.2f}s ({noop_written} files) = {noop / full:.2f} x full",
        f"generate: one cluster's labels changed {one:.2f}s ({one_written} files) = {one / full:.2f} x full",
    ]


if __name__ == "__main__":
    print("\n".join(main()))
