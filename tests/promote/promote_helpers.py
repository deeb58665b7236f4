"""Helpers for the promotion tests: a small fleet in a real git repository with a bare remote."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from fluxfleet.cli.main import main
from fluxfleet.generate.run import generate
from usecases.helpers import FLEET_HEAD

FLEET = (
    "# test fleet\n"
    + FLEET_HEAD
    + """\
  environments:
    - name: dev
    - name: staging
{staging}
    - name: prod
      promotion:
        soak: 1h
        approval: true
        waves:
          - name: canary
            selector:
              matchLabels:
                region: us-west-2
            soak: 30m
          - name: rest
  clusters:
{clusters}
  apps:
{apps}
"""
)

CLUSTERS = [
    ("dev-a", "dev", "us-west-2"),
    ("staging-a", "staging", "us-west-2"),
    ("staging-b", "staging", "eu-west-1"),
    ("prod-a", "prod", "us-west-2"),
    ("prod-b", "prod", "eu-west-1"),
    ("prod-c", "prod", "us-east-1"),
]
APPS = ("web", "api", "worker", "jobs")


def fleet_text(staging: str = "") -> str:
    clusters = "".join(
        f"    - name: {n}\n      labels:\n        environment: {e}\n        region: {r}\n        team: t-{r}\n"
        for n, e, r in CLUSTERS
    )
    apps = "".join(
        f"    - name: {a}\n      namespace: {a}\n      images: [ghcr.io/acme/{a}]\n"
        f"      versions:  # start versions\n        dev: v2\n        staging: v1\n        prod: v1\n"
        for a in APPS
    )
    return FLEET.format(staging=staging, clusters=clusters, apps=apps)


def git(repo: Path, *args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    res = subprocess.run(
        ["git", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if check and res.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {res.stderr}")
    return res.stdout


_TEMPLATES: dict[str, Path] = {}


def make_repo(path: Path, staging: str = "") -> Path:
    """A committed fleet repository at ``path`` (generated once per variant, then copied)."""
    if staging not in _TEMPLATES:
        template = Path(tempfile.mkdtemp(prefix="fluxfleet-promote-tpl-")) / "repo"
        atexit.register(shutil.rmtree, template.parent, True)
        template.mkdir()
        (template / "fleet.yaml").write_text(fleet_text(staging))
        generate(template)
        git(template, "init", "-q", "-b", "main")
        git(template, "add", "-A")
        git(template, "commit", "-q", "-m", "fleet", env={"GIT_COMMITTER_DATE": "2020-01-01T00:00:00Z"})
        _TEMPLATES[staging] = template
    shutil.copytree(_TEMPLATES[staging], path, symlinks=True)
    return path


def with_remote(repo: Path, tmp: Path, clones: int = 1) -> tuple[Path, list[Path]]:
    """A bare remote holding ``repo``'s history and ``clones`` fresh clones of it."""
    bare = tmp / "remote.git"
    git(tmp, "init", "-q", "--bare", "-b", "main", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "main")
    out = []
    for i in range(clones):
        dest = tmp / f"clone{i}"
        git(tmp, "clone", "-q", str(bare), str(dest))
        out.append(dest)
    return bare, out


def ff(repo: Path, *args: str, render: bool = False) -> int:
    """Run the fluxfleet CLI in-process against ``repo``.

    Promotions skip the rendered preview unless ``render`` (test_preview.py covers it) to keep the
    suite fast.
    """
    extra = (
        ["--skip-checks", "unit test"] if args and args[0] in ("promote", "rollback") and not render else []
    )
    return main([*args, *extra, "-C", str(repo)])


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def status(repo: Path) -> str:
    return git(repo, "status", "--porcelain")


def overlay(repo: Path, app: str, env: str) -> str:
    return (repo / "apps" / app / "overlays" / env / "kustomization.yaml").read_text()


def trailers(repo: Path, rev: str = "HEAD") -> dict[str, str]:
    out = git(repo, "log", "-1", "--format=%(trailers:only,unfold)", rev)
    pairs = [line.split(": ", 1) for line in out.splitlines() if ": " in line]
    return {k: v for k, v in pairs}


OLD = {"GIT_COMMITTER_DATE": "2020-01-02T00:00:00Z"}
