"""`fluxfleet build -o dir:PATH`: a folder per cluster, replaced whole, never over the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluxfleet.cli.main import main
from render.helpers import cluster_repo, cm, ks


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return cluster_repo(
        tmp_path / "repo", {"apps.yaml": [ks("apps", "./apps")]}, {"apps/cm.yaml": [cm("settings")]}
    )


def test_dir_output_replaces_each_cluster_folder(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    assert main(["build", "-C", str(repo), "-o", f"dir:{out}"]) == 0
    files = sorted(p.name for p in (out / "test").iterdir())
    assert "kustomization-flux-system-apps.yaml" in files
    assert "name: settings" in (out / "test" / "kustomization-flux-system-apps.yaml").read_text()
    (out / "test" / "kustomization-flux-system-gone.yaml").write_text("kind: ConfigMap\n")
    assert main(["build", "-C", str(repo), "-o", f"dir:{out}"]) == 0
    assert sorted(p.name for p in (out / "test").iterdir()) == files


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
