"""Promotions under hostile input: no git option injection, exact version matching, and every
refusal or error leaves the repository exactly as it was (HEAD, branches, index, files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from promote.promote_helpers import ff, git, make_repo, with_remote


def repo_state(repo: Path) -> tuple[str, str, str, str]:
    return (
        git(repo, "rev-parse", "HEAD"),
        git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads"),
        git(repo, "status", "--porcelain", "--untracked-files=all"),
        git(repo, "stash", "list"),
    )


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "origin-src")
    _, (one,) = with_remote(repo, tmp_path, clones=1)
    return one


def test_remote_option_injection_runs_nothing(
    clone: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    canary = tmp_path / "injected"
    before = repo_state(clone)
    for remote in (f"--upload-pack=touch {canary};", f"--receive-pack=touch {canary}", "-oops", "nope"):
        code = ff(clone, "promote", "web", "--to", "staging", "--push", "--remote", remote)
        err = capsys.readouterr().err
        assert code == 2, err
        assert "not a configured remote" in err and "--remote" in err
    assert not canary.exists()
    assert repo_state(clone) == before


@pytest.mark.parametrize("version", ["v1.2.9\n", "v1.2.9\n--x", "-v1", "v1 2", "", "v1\x00"])
def test_versions_must_match_whole(clone: Path, version: str, capsys: pytest.CaptureFixture[str]) -> None:
    before = repo_state(clone)
    assert ff(clone, "promote", "web", "--to", "dev", "--version", version) == 2
    assert "not a valid image tag" in capsys.readouterr().err
    assert ff(clone, "rollback", "web", "--env", "dev", "--to", version, "--force", "test") == 2
    assert repo_state(clone) == before


@pytest.mark.parametrize("push", [False, True])
def test_failed_branch_promotion_leaves_no_commit(
    clone: Path, push: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    before = repo_state(clone)
    extra = ["--push"] if push else []
    assert ff(clone, "promote", "web", "--to", "dev", "--version", "v1.lock", "--branch", *extra) == 2
    assert "not a valid git branch name" in capsys.readouterr().err
    assert repo_state(clone) == before


def test_refused_push_of_a_promotion_branch_restores_everything(
    clone: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The remote refuses every update: the promotion branch must not stay behind locally.
    bare = Path(git(clone, "remote", "get-url", "origin").strip())
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho refused by policy >&2\nexit 1\n")
    hook.chmod(0o755)
    before = repo_state(clone)
    assert ff(clone, "promote", "web", "--to", "staging", "--branch", "--push") == 2
    assert "refused" in capsys.readouterr().err
    assert repo_state(clone) == before
    assert ff(clone, "promote", "web", "--to", "staging", "--push") == 2
    assert repo_state(clone) == before


def test_gate_refusal_after_fetch_leaves_the_branch_where_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "origin-src")
    _, (a, b) = with_remote(repo, tmp_path, clones=2)
    assert ff(a, "promote", "web", "--to", "staging", "--push") == 0
    before = repo_state(b)
    # prod needs approval: refused by a gate (3) after b fetched the new head
    assert ff(b, "promote", "web", "--to", "prod", "--push") == 3
    assert repo_state(b) == before
