"""Shared test fixtures. Real git, real kustomize, real sops: nothing here is mocked."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitcmd import git

__all__ = ["ROOT", "SHARED", "git"]

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


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep caches and git config of tests out of the real home directory."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    # Charts only from the cache: tests reach no network but loopback (chart tests unset it).
    monkeypatch.setenv("FLUXFLEET_OFFLINE", "1")
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))  # crash reports, generate journal tokens
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    (home / "gitconfig").write_text(
        "[user]\n\tname = Test\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n"
    )


@pytest.fixture(scope="session")
def _example_fleet_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`init --example` + `generate`, built once per test process (copied by ``example_fleet``)."""
    from fluxfleet.cli.main import main

    repo = tmp_path_factory.mktemp("example-template") / "fleet"
    assert main(["init", "--example", str(repo)]) == 0
    assert main(["generate", "-C", str(repo)]) == 0
    return repo


@pytest.fixture
def example_fleet(_example_fleet_template: Path, tmp_path: Path) -> Path:
    """A private copy of the generated example fleet (a git work tree without commits)."""
    import shutil

    return Path(shutil.copytree(_example_fleet_template, tmp_path / "fleet", symlinks=True))
