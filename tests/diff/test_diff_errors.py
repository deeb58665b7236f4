"""`fluxfleet diff` fails (exit 2) only on render errors the change introduces."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluxfleet.cli.main import main
from gitcmd import git
from render.helpers import cluster_repo, cm, ks, write


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = cluster_repo(
        tmp_path / "repo",
        {"apps.yaml": [ks("apps", "./apps")], "broken.yaml": [ks("broken", "./missing-folder")]},
        {"apps/cm.yaml": [cm("settings", replicas="2")]},
    )
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base with a long-broken Kustomization")
    return root


def test_errors_already_at_the_base_do_not_fail_the_diff(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diff", "-C", str(repo)]) == 0
    assert "already at the base" in capsys.readouterr().err
    write(repo, {"apps/cm.yaml": [cm("settings", replicas="3")]})
    assert main(["diff", "-C", str(repo)]) == 1


def test_an_error_the_change_introduces_fails_the_diff(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "apps/extra.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: [oops\n")
    assert main(["diff", "-C", str(repo)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "apps/extra.yaml" in err
