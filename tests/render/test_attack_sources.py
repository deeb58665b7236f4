"""ArtifactGenerator copy rules and FluxInstance sync paths from a hostile pull request: nothing
outside the repository is read or written. Real CLI, real kustomize; canaries in the environment
and in files outside the repository."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from fluxfleet.cli.main import main
from fluxfleet.render.files import FileTree

from .helpers import cluster_repo, ks, write

CANARY_ENV = "canary-src-env-5c1a"
CANARY_FILE = "canary-src-file-e04d"


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.yaml").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: stolen}}\ndata: {{token: {CANARY_FILE}}}\n"
    )
    (folder / "kustomization.yaml").write_text("resources: [secret.yaml]\n")
    monkeypatch.setenv("GITHUB_TOKEN", CANARY_ENV)
    return folder


def _generator(copies: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "source.extensions.fluxcd.io/v1beta1",
        "kind": "ArtifactGenerator",
        "metadata": {"name": "evil", "namespace": "flux-system"},
        "spec": {
            "sources": [{"alias": "repo", "kind": "GitRepository", "name": "flux-system"}],
            "artifacts": [{"name": f"a{i}", "copy": [c]} for i, c in enumerate(copies)],
        },
    }


def test_copy_rules_never_reach_outside_the_source_or_the_artifact(
    tmp_path: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rel = os.path.relpath(outside, tmp_path / "repo")
    copies = [
        {"from": f"@repo/{rel}/secret.yaml", "to": "@artifact/"},
        {"from": f"@repo/{rel}/*", "to": "@artifact/"},
        {"from": f"@repo/apps/../{rel}/**", "to": "@artifact/"},
        {"from": f"@repo/{outside}/*", "to": "@artifact/"},  # an absolute glob
        {"from": f"@repo/{outside}/secret.yaml", "to": "@artifact/"},
        {"from": "@repo/apps/link/*", "to": "@artifact/"},  # a symlink in the repository
        {"from": "@repo/apps/**", "to": "@artifact/"},
        {"from": "@repo/apps/cm.yaml", "to": f"@artifact/../../{rel}/written.yaml"},
        {"from": "@repo/apps/*", "to": "@artifact/../../../escape/"},
    ]
    users = [
        ks(f"a{i}", "./", sourceRef={"kind": "ExternalArtifact", "name": f"a{i}"}) for i in range(len(copies))
    ]
    repo = cluster_repo(
        tmp_path / "repo",
        {"gen.yaml": [_generator(copies), *users]},
        {"apps/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n"},
    )
    os.symlink(outside, repo / "apps/link", target_is_directory=True)
    code = main(["build", "-C", str(repo)])
    out, err = capsys.readouterr()
    code_get = main(["get", "kustomizations", "-C", str(repo), "-o", "json"])
    listed, _ = capsys.readouterr()
    assert code in (0, 1) and code_get in (0, 1), out + err
    assert "name: fine" in out  # the honest copy rule still works
    assert "leaves the artifact" in listed
    for text in (out, err, listed):
        assert CANARY_FILE not in text and CANARY_ENV not in text
    assert sorted(p.name for p in outside.iterdir()) == ["kustomization.yaml", "secret.yaml"]
    assert not (tmp_path / "escape").exists()


def test_absolute_paths_are_not_in_a_file_tree(tmp_path: Path, outside: Path) -> None:
    tree = FileTree(tmp_path / "empty")
    for path in (str(outside / "secret.yaml"), "/", "/etc/passwd", "../outside/secret.yaml", ".."):
        assert not tree.exists(path)  # was an endless recursion for absolute paths
        with pytest.raises(FileNotFoundError):
            tree.read(path)


@pytest.mark.parametrize("sync_path", ["../outside", "../../outside", "/etc", "clusters/../../outside"])
def test_flux_instance_sync_path_outside_the_repository(
    tmp_path: Path, outside: Path, sync_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    instance = {
        "apiVersion": "fluxcd.controlplane.io/v1",
        "kind": "FluxInstance",
        "metadata": {"name": "flux", "namespace": "flux-system"},
        "spec": {
            "distribution": {"version": "2.x", "registry": "ghcr.io/fluxcd"},
            "sync": {
                "kind": "GitRepository",
                "url": "https://example.com/x.git",
                "ref": "refs/heads/main",
                "path": sync_path,
            },
        },
    }
    repo = write(tmp_path / "repo", {"clusters/prod/flux-instance.yaml": [instance]})
    code = main(["build", "-C", str(repo)])
    out, err = capsys.readouterr()
    assert code in (1, 2), out + err
    assert "Traceback" not in err
    assert CANARY_FILE not in out + err and CANARY_ENV not in out + err
