"""`fluxfleet build -o dir:PATH`: a folder per cluster, replaced whole, never over the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluxfleet import yamlio
from fluxfleet.cli.main import main
from render.helpers import cluster_repo, cm, ks


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return cluster_repo(
        tmp_path / "repo", {"apps.yaml": [ks("apps", "./apps")]}, {"apps/cm.yaml": [cm("settings")]}
    )


def test_dir_output_replaces_each_cluster_folder(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    gone = repo / "clusters/test/gone.yaml"
    gone.write_text(yamlio.dump_all([ks("gone", "./apps")]))
    assert main(["build", "-C", str(repo), "-o", f"dir:{out}"]) == 0
    assert (out / "test" / "kustomization-flux-system-gone.yaml").is_file()
    gone.unlink()
    files = sorted(p.name for p in (out / "test").iterdir() if "gone" not in p.name)
    assert "kustomization-flux-system-apps.yaml" in files
    assert "name: settings" in (out / "test" / "kustomization-flux-system-apps.yaml").read_text()
    # A file the user put there is theirs: replaced output never takes it along.
    (out / "test" / "notes.yaml").write_text("kind: ConfigMap\n")
    assert main(["build", "-C", str(repo), "-o", f"dir:{out}"]) == 0
    assert sorted(p.name for p in (out / "test").iterdir()) == sorted([*files, "notes.yaml"])


@pytest.mark.parametrize("target", ["", "{repo}", "{repo}/..", "{file}"])
def test_dir_output_refuses_bad_targets(
    repo: Path, tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    before = sorted(str(p) for p in repo.rglob("*"))
    assert main(["build", "-C", str(repo), "-o", "dir:" + target.format(repo=repo, file=afile)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--output" in err
    assert sorted(str(p) for p in repo.rglob("*")) == before


def test_dir_output_never_writes_over_user_files(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`-o dir:clusters` in a repository: a non-empty folder fluxfleet did not write is refused."""
    clusters = repo / "clusters"
    before = {str(p): p.read_bytes() for p in clusters.rglob("*") if p.is_file()}
    assert main(["build", "-C", str(repo), "-o", f"dir:{clusters}"]) == 2
    assert "not written by fluxfleet" in capsys.readouterr().err
    assert {str(p): p.read_bytes() for p in clusters.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("target", ["~", "{repo}/.git", "{repo}/.git/x", "/"])
def test_dir_output_refuses_home_git_and_root(
    repo: Path,
    target: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    (home / "notes").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    (repo / ".git").mkdir()
    assert main(["build", "-C", str(repo), "-o", "dir:" + target.format(repo=repo)]) == 2
    assert "--output" in capsys.readouterr().err
    assert sorted(p.name for p in (repo / ".git").iterdir()) == []
    assert (home / "notes").is_dir() and not (home / ".fluxfleet-build").exists()
