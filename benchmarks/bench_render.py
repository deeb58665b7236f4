"""Render benchmarks: cold vs warm renders, 10 vs 1,000 clusters, and a diff after a one-line change.

Every figure is a ratio of two timings taken in the same run. The synthetic fleets come from
``benchmarks.synth`` + ``fluxfleet generate`` (the real generated layout), so clusters share
overlays as a real fleet does. Each measurement uses its own empty cache directory for "cold".
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.synth import write_fleet
from fluxfleet.cli.main import main as cli
from fluxfleet.render.api import RenderOptions, RenderSession
from fluxfleet.render.builder import Builder

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "repos"


def _render(repo: Path, cache: Path, jobs: int | None = None) -> tuple[float, RenderSession]:
    start = time.perf_counter()
    with RenderSession(RenderOptions(cache_dir=cache, jobs=jobs)) as session:
        session.render(repo)
    return time.perf_counter() - start, session


def _fleet(root: Path, clusters: int, apps: int = 8) -> Path:
    repo = write_fleet(root, clusters, apps)
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli(["generate", "-C", str(repo)])
    if code != 0:
        raise RuntimeError("fluxfleet generate failed on the synthetic fleet")
    return repo


def _sum_of_unique_builds(repo: Path, cache: Path) -> float:
    """Seconds the unique kustomize builds take one after another (no cache, one worker)."""
    total = 0.0
    original = Builder._kustomize

    def timed(self: Builder, *args: object, **kwargs: object) -> object:
        nonlocal total
        start = time.perf_counter()
        try:
            return original(self, *args, **kwargs)  # type: ignore[arg-type]
        finally:
            total += time.perf_counter() - start

    Builder._kustomize = timed  # type: ignore[method-assign,assignment]
    try:
        _render(repo, cache, jobs=1)
    finally:
        Builder._kustomize = original  # type: ignore[method-assign]
    return total


def _git(repo: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@b",
    }
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def main() -> list[str]:
    lines: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="fluxfleet-bench-render-"))
    cores = os.cpu_count() or 1
    try:
        if FIXTURES.is_dir():
            cache = work / "cache-fixtures"
            cold = warm = 0.0
            for repo in sorted(FIXTURES.iterdir()):
                cold += _render(repo, cache)[0]
                warm += _render(repo, cache)[0]
            lines.append(
                f"fixture repos (3): cold {cold:.2f}s, warm {warm:.2f}s -> warm is {cold / warm:.1f}x faster"
            )

        small = _fleet(work / "fleet10", 10)
        large = _fleet(work / "fleet1000", 1000)
        cold10, s10 = _render(small, work / "c10")
        warm10, _ = _render(small, work / "c10")
        cold1000, s1000 = _render(large, work / "c1000")
        warm1000, _ = _render(large, work / "c1000")
        lines.append(
            f"10 clusters: cold {cold10:.2f}s ({s10.builder.stats['kustomize']} kustomize builds), warm {warm10:.2f}s"
        )
        lines.append(
            f"1000 clusters: cold {cold1000:.2f}s ({s1000.builder.stats['kustomize']} kustomize builds, "
            f"{s1000.builder.stats['deduplicated']} deduplicated), warm {warm1000:.2f}s"
        )
        lines.append(f"1000 vs 10 clusters, cold: {cold1000 / cold10:.1f}x (target <= 3x)")
        lines.append(f"1000 vs 10 clusters, warm: {warm1000 / max(warm10, 1e-3):.1f}x")
        unique = _sum_of_unique_builds(small, work / "c10-seq")
        ideal = unique / cores
        lines.append(
            f"cold render of 10 clusters vs sum of unique kustomize builds / {cores} cores "
            f"({unique:.2f}s / {cores} = {ideal:.2f}s): {cold10 / ideal:.2f}x (target <= 1.3x)"
        )

        # A one-line change in a 100-cluster fleet: warm diff vs cold render.
        repo = _fleet(work / "fleet100", 100)
        _git(repo, "init", "-q", "-b", "main")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-qm", "fleet")
        cache = work / "c100"
        cold100, _ = _render(repo, cache)
        overlay = next(repo.glob("apps/*/overlays/prod/kustomization.yaml"))
        overlay.write_text(overlay.read_text().replace("newTag: v1.0.", "newTag: v1.1.", 1))
        old = os.environ.get("XDG_CACHE_HOME")
        os.environ["XDG_CACHE_HOME"] = str(work / "xdg")
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                cli(["diff", "-C", str(repo), "-o", "json"])  # fills this cache directory
                start = time.perf_counter()
                code = cli(["diff", "-C", str(repo), "-o", "json"])
                diff_warm = time.perf_counter() - start
        finally:
            if old is None:
                os.environ.pop("XDG_CACHE_HOME", None)
            else:
                os.environ["XDG_CACHE_HOME"] = old
        lines.append(
            f"100 clusters, one-line change: warm diff (both revisions) {diff_warm:.2f}s vs cold render {cold100:.2f}s "
            f"-> {diff_warm / cold100:.2f}x of a cold render (exit {code})"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return lines


if __name__ == "__main__":
    for line in main():
        print(line)
