"""Promotion and history cost on a synthetic repository: 300 clusters, 20,000 commits.

The history is written with ``git fast-import`` (one in five commits a promotion with trailers),
then ``fluxfleet history``, ``versions`` and ``promote`` (overlay edit; wave step with pins and
regeneration; with and without the rendered preview) are timed against a plain ``git log`` of
the same repository, measured in the same run.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.synth import write_fleet
from fluxfleet.cli.main import main as cli
from fluxfleet.generate.run import generate

CLUSTERS = 300
APPS = 5
COMMITS = 20_000
WAVES = (
    "{name: prod, promotion: {waves: [{name: canary, selector: {matchLabels: {tier: t0}}}, {name: rest}]}}"
)
_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def _git(repo: Path, *args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(
        ["git", *args], cwd=repo, input=data, capture_output=True, check=True, env=_ENV
    ).stdout


def _blob(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n%s\n" % (len(raw), raw)


def _history_stream(repo: Path) -> bytes:
    files = sorted(p for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts)
    ts = 1_700_000_000
    out = [
        b"commit refs/heads/main\n",
        b"committer bench <bench@example.com> %d +0000\n" % ts,
        _blob("fleet"),
    ]
    for p in files:
        out.append(b"M 100644 inline %s\n" % p.relative_to(repo).as_posix().encode())
        out.append(_blob(p.read_text()))
    for i in range(1, COMMITS):
        ts += 60
        out.append(b"commit refs/heads/main\n")
        out.append(b"committer bench <bench@example.com> %d +0000\n" % ts)
        if i % 5 == 0:
            app = f"app{(i // 5) % APPS:02d}"
            env = ("dev", "staging")[(i // 25) % 2]
            version = f"v2.{i}"
            path = f"apps/{app}/overlays/{env}/kustomization.yaml"
            text = (repo / path).read_text()
            old = text.split("newTag: ", 1)[1].split("\n", 1)[0]
            message = (
                f"promote {app} {version} to {env}\n\n"
                f"Fluxfleet-Action: promote\nFluxfleet-App: {app}\nFluxfleet-Env: {env}\n"
                f"Fluxfleet-Version: {version}\nFluxfleet-Previous-Version: {old}\n"
                f"Fluxfleet-Gates: source=pass,soak=skip\n"
            )
            (repo / path).write_text(text.replace(f"newTag: {old}", f"newTag: {version}"))
            out.append(_blob(message))
            out.append(b"M 100644 inline %s\n" % path.encode())
            out.append(_blob((repo / path).read_text()))
        else:
            out.append(_blob(f"docs change {i}"))
            out.append(b"M 100644 inline docs/notes-%d.md\n" % (i % 50))
            out.append(_blob(f"note {i}\n"))
    return b"".join(out)


def build(root: Path) -> Path:
    repo = write_fleet(root / "repo", CLUSTERS, APPS)
    fleet = repo / "fleet.yaml"
    fleet.write_text(fleet.read_text().replace("{name: prod}", WAVES))
    generate(repo)
    stream = _history_stream(repo)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "fast-import", "--quiet", data=stream)
    _git(repo, "reset", "-q", "--hard", "main")
    return repo


def _best(fn: Callable[[], object], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _quiet(*args: str) -> int:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return cli(list(args))


def main() -> list[str]:
    work = Path(tempfile.mkdtemp(prefix="fluxfleet-bench-promote-"))
    try:
        started = time.perf_counter()
        repo = build(work)
        built = time.perf_counter() - started
        r = str(repo)
        count = int(_git(repo, "rev-list", "--count", "main"))
        base = _git(repo, "rev-parse", "HEAD").decode().strip()

        plain = _best(lambda: _git(repo, "log", "--format=%H %s"))
        history = _best(lambda: _quiet("history", "-o", "json", "-C", r))
        history_app = _best(lambda: _quiet("history", "app01", "--env", "staging", "-C", r))
        versions = _best(lambda: _quiet("versions", "-o", "json", "-C", r))

        def promote(*extra: str) -> Callable[[], object]:
            def run() -> None:
                code = _quiet("promote", "app01", "--to", "staging", *extra, "-C", r)
                assert code == 0, f"promote failed ({code})"
                _git(repo, "reset", "-q", "--hard", base)

            return run

        promote_fast = _best(promote("--skip-checks", "benchmark"))
        promote_render = _best(promote(), runs=1)

        def wave() -> None:
            code = _quiet(
                "promote",
                "app01",
                "--to",
                "prod",
                "--version",
                "v9",
                "--force",
                "bench",
                "--skip-checks",
                "benchmark",
                "-C",
                r,
            )
            assert code == 0, f"wave promote failed ({code})"
            _git(repo, "reset", "-q", "--hard", base)

        wave_step = _best(wave)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def ratio(t: float) -> str:
        return f"{t:.2f}s = {t / plain:.1f} x git log"

    return [
        f"repo: {CLUSTERS} clusters, {count} commits ({count // 5} promotions) built in {built:.1f}s",
        f"plain git log (all commits): {plain:.3f}s",
        f"history -o json (all promotions): {ratio(history)}",
        f"history app01 --env staging: {ratio(history_app)}",
        f"versions -o json: {ratio(versions)}",
        f"promote (overlay edit, --skip-checks): {ratio(promote_fast)}",
        f"promote (overlay edit, rendered preview + checks on 100 clusters): {ratio(promote_render)}",
        f"promote wave 1/2 (pins + regenerate {CLUSTERS} clusters, --skip-checks): {ratio(wave_step)}",
    ]
