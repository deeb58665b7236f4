"""Shared test fixtures. Real git, real kustomize, real sops: nothing here is mocked."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` (public fixtures). Tests that need it skip, visibly, where it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"../shared is absent ({SHARED}); fixture-based tests need it")
    return SHARED


@pytest.fixture(scope="session")
def fixture_repos(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "repos"


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    out = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True, env=env)
    return out.stdout


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep caches and git config of tests out of the real home directory."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))  # crash reports, generate journal tokens
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    (home / "gitconfig").write_text(
        "[user]\n\tname = Test\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n"
    )
