"""Pushing promotions: races re-apply on the new head, rejections leave the clone untouched,
promotion branches, and several processes promoting against one remote at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from promote_helpers import APPS, ff, git, head, make_repo, overlay, status, trailers, with_remote


@pytest.fixture
def remote(tmp_path: Path) -> tuple[Path, list[Path]]:
    repo = make_repo(tmp_path / "origin-src")
    return with_remote(repo, tmp_path, clones=2)


def test_push_retries_on_a_moved_remote(
    remote: tuple[Path, list[Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    bare, (a, b) = remote
    assert ff(a, "promote", "web", "--to", "staging", "--push") == 0
    # b is behind: it fetches first, so its gates see web's promotion and the push is a fast-forward
    assert ff(b, "promote", "api", "--to", "staging", "--push") == 0
    log = git(bare, "log", "--format=%s", "main").splitlines()
    assert log[:2] == ["promote api v2 to staging (from dev)", "promote web v2 to staging (from dev)"]
    assert trailers(bare, "main")["Fluxfleet-Checked-On"] == git(bare, "rev-parse", "main^").strip()
    assert "newTag: v2" in overlay(b, "web", "staging")  # b was fast-forwarded


def test_race_is_reapplied_on_new_head(
    remote: tuple[Path, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    bare, (a, b) = remote
    # b wins the race between a's fetch and a's push: simulate it with a hook-free trick, pushing
    # from b right after a has fetched, by wrapping fetch
    from fluxfleet.gitrepo import push as gitpush

    real_fetch = gitpush.fetch
    calls = {"n": 0}

    def racing_fetch(git_: object, remote_: str, branch: str) -> str | None:
        calls["n"] += 1
        tip = real_fetch(git_, remote_, branch)  # type: ignore[arg-type]
        if calls["n"] == 1:
            assert ff(b, "promote", "api", "--to", "staging", "--push") == 0
        return tip

    monkeypatch.setattr(gitpush, "fetch", racing_fetch)
    assert ff(a, "promote", "web", "--to", "staging", "--push") == 0
    assert calls["n"] >= 2
    subjects = git(bare, "log", "--format=%s", "main").splitlines()
    assert subjects[:2] == ["promote web v2 to staging (from dev)", "promote api v2 to staging (from dev)"]
    assert git(bare, "rev-list", "--merges", "main") == ""
    assert trailers(bare, "main")["Fluxfleet-Checked-On"] == git(bare, "rev-parse", "main^").strip()


def test_rejected_push_leaves_clone_untouched(
    remote: tuple[Path, list[Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    bare, (a, _) = remote
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'main is protected' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = head(a)
    assert ff(a, "promote", "web", "--to", "staging", "--push") == 2
    err = capsys.readouterr().err
    assert "refused the push" in err and "main is protected" in err
    assert head(a) == before and status(a) == ""
    assert "newTag: v1" in overlay(a, "web", "staging")


def test_branch_mode_pushes_a_promotion_branch(remote: tuple[Path, list[Path]]) -> None:
    bare, (a, _) = remote
    before = head(a)
    assert ff(a, "promote", "web", "--to", "staging", "--branch", "--push") == 0
    assert head(a) == before and status(a) == ""
    branch = "fluxfleet/promote/web/staging/v2"
    assert git(bare, "log", "-1", "--format=%s", branch).strip() == "promote web v2 to staging (from dev)"
    assert git(bare, "rev-parse", "main").strip() == before


def test_concurrent_promotions_against_one_remote(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "origin-src")
    bare, clones = with_remote(repo, tmp_path, clones=len(APPS))
    jobs = [
        (clone, app, env)
        for clone, app, env in zip(clones, APPS, ["staging", "dev", "staging", "dev"], strict=True)
    ]
    procs = []
    for clone, app, env in jobs:
        args = [
            "promote",
            app,
            "--to",
            env,
            "--push",
            "--retries",
            "20",
            "--skip-checks",
            "unit test",
            "-C",
            str(clone),
        ]
        if env == "dev":
            args += ["--version", "v5"]
        code = "import sys; from fluxfleet.cli.main import main; sys.exit(main(sys.argv[1:]))"
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", code, *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=os.environ,
            )
        )
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    records = git(bare, "log", "--format=%H %P", "main").splitlines()
    promotions = git(bare, "log", "--format=%(trailers:key=Fluxfleet-App,valueonly)", "main").split()
    assert sorted(promotions) == sorted(APPS)  # none lost
    assert git(bare, "rev-list", "--merges", "main") == ""  # linear
    for line in records[: len(APPS)]:
        sha, parent = line.split()
        assert trailers(bare, sha)["Fluxfleet-Checked-On"] == parent
    fresh = tmp_path / "check"
    git(tmp_path, "clone", "-q", str(bare), str(fresh))
    for _, app, env in jobs:
        assert f"newTag: {'v5' if env == 'dev' else 'v2'}" in overlay(fresh, app, env)


def test_branch_mode_from_environment_config(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", staging="      promotion:\n        mode: branch\n")
    before = head(repo)
    assert ff(repo, "promote", "web", "--to", "staging") == 0
    assert head(repo) == before
    assert "newTag: v2" in git(
        repo, "show", "fluxfleet/promote/web/staging/v2:apps/web/overlays/staging/kustomization.yaml"
    )
    assert ff(repo, "promote", "api", "--to", "staging", "--direct") == 0
    assert head(repo) != before
