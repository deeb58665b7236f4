"""`generate` writes as one transaction: killed (SIGKILL, a real kill at a measured point) while
staging or while renaming, the tree is wholly old, and after the next run wholly new."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fluxfleet.cli.main import main
from promote.promote_helpers import fleet_text

TXN = ".fluxfleet-txn"


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and TXN not in p.parts
    }


def run_cli(repo: Path, *args: str, kill_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if kill_at:
        env["FLUXFLEET_TEST_KILL_AT"] = kill_at
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from fluxfleet.cli.main import run; run()",
            "generate",
            "-C",
            str(repo),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def trees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, str], dict[str, str]]:
    """A repository generated from the old fleet, and the snapshots of the old and new trees."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    old_fleet = fleet_text()
    # A new label value changes every cluster's Kustomizations: dozens of files to rename.
    new_fleet = old_fleet.replace("team: t-", "team: u-")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "fleet.yaml").write_text(old_fleet)
    assert main(["generate", "-C", str(repo)]) == 0
    expected = tmp_path / "expected"
    shutil.copytree(repo, expected)
    (expected / "fleet.yaml").write_text(new_fleet)
    assert main(["generate", "-C", str(expected)]) == 0
    (repo / "fleet.yaml").write_text(new_fleet)
    old, new = snapshot(repo), snapshot(expected)
    changed = [p for p in new if old.get(p) != new[p] and p != "fleet.yaml"]
    assert len(changed) > 6, changed
    return repo, old, new


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["staging:4", "rename:1", "rename:12"])
def test_killed_generate_is_wholly_old_then_wholly_new(
    trees: tuple[Path, dict[str, str], dict[str, str]], phase: str
) -> None:
    repo, old, new = trees
    killed = run_cli(repo, kill_at=phase)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (repo / TXN).is_dir()
    after_kill = snapshot(repo)
    if phase.startswith("staging"):
        assert after_kill == old  # nothing renamed before the commit point
    else:
        assert after_kill != old and after_kill != new  # really killed in the middle of the renames
    checked = run_cli(repo, "--check")
    assert checked.returncode == 1 and "interrupted" in checked.stdout, checked.stdout + checked.stderr
    assert snapshot(repo) == after_kill  # --check writes nothing
    again = run_cli(repo)
    assert again.returncode == 0, again.stderr
    assert snapshot(repo) == new
    assert not (repo / TXN).exists()
    assert run_cli(repo, "--check").returncode == 0


def test_stray_temp_files_are_reported_and_removed(
    trees: tuple[Path, dict[str, str], dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _, _ = trees
    assert main(["generate", "-C", str(repo)]) == 0
    folder = repo / "clusters/dev/us-west-2/apps"
    stray = folder / ".web.yaml.k2j_9x0a.tmp"
    stray.write_text("half a file")
    mine = folder / ".notes.tmp"  # not the writer's pattern: the user's, left alone
    mine.write_text("keep")
    capsys.readouterr()
    assert main(["generate", "-C", str(repo), "--check"]) == 1
    assert "clusters/dev/us-west-2/apps/.web.yaml.k2j_9x0a.tmp" in capsys.readouterr().out
    assert main(["generate", "-C", str(repo)]) == 0
    assert not stray.exists() and mine.read_text() == "keep"
    assert main(["generate", "-C", str(repo), "--check"]) == 0


def test_a_committed_transaction_folder_is_refused_not_replayed(
    trees: tuple[Path, dict[str, str], dict[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pull request can carry a .fluxfleet-txn naming any path: it must never be rolled forward."""
    repo, _, _ = trees
    txn = repo / TXN
    (txn / "files/.git/hooks").mkdir(parents=True)
    (txn / "files/.git/hooks/pre-commit").write_text("#!/bin/sh\ntouch /tmp/pwned\n")
    (txn / "journal.json").write_text(
        '{"version": 1, "token": "guess", "writes": [".git/hooks/pre-commit"], "deletes": ["fleet.yaml"]}'
    )
    before = snapshot(repo)
    assert main(["generate", "-C", str(repo)]) == 2
    err = capsys.readouterr().err
    assert "did not start" in err and "Traceback" not in err
    assert snapshot(repo) == before and not (repo / ".git").exists()
