"""`fluxfleet diff` on real git revisions in a temporary repository."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from fluxfleet.cli.main import main
from fluxfleet.diff.compare import compare
from fluxfleet.diff.report import as_markdown
from fluxfleet.gitrepo.tree import default_branch, merge_base, read_files, resolve
from gitcmd import git
from render.helpers import cluster_repo, cm, ks, render, write

CANARY = "s3cr3t-canary-value-4411"


def _secret(value: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "default"},
        "data": {
            "password": base64.b64encode(value.encode()).decode(),
            "user": base64.b64encode(b"app").decode(),
        },
    }


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = cluster_repo(
        tmp_path / "repo",
        {"apps.yaml": [ks("apps", "./apps")], "gone.yaml": [ks("old", "./old")]},
        {
            "apps/cm.yaml": [cm("settings", replicas="2"), _secret(CANARY + "-before")],
            "old/cm.yaml": [cm("legacy")],
        },
    )
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    return root


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_no_change_exits_0(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "diff", "-C", str(repo))
    assert code == 0
    assert "no changes" in out


def test_working_tree_changes_against_merge_base(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    write(repo, {"apps/cm.yaml": [cm("settings", replicas="3"), cm("new-one"), _secret(CANARY + "-after")]})
    (repo / "clusters/test/gone.yaml").unlink()
    code, out, err = _run(capsys, "diff", "-C", str(repo), "-o", "json")
    assert code == 1, err
    data = json.loads(out)
    (cluster,) = data["clusters"]
    changes = {(c["action"], c["object"]) for c in cluster["changes"]}
    assert ("changed", "ConfigMap/default/settings") in changes
    assert ("created", "ConfigMap/default/new-one") in changes
    assert ("deleted", "ConfigMap/default/legacy") in changes
    assert ("deleted", "Kustomization/flux-system/old") in changes
    assert ("changed", "Secret/default/db") in changes
    settings = next(c for c in cluster["changes"] if c["object"] == "ConfigMap/default/settings")
    assert "-  replicas: '2'" in settings["diff"] and "+  replicas: '3'" in settings["diff"]
    secret = next(c for c in cluster["changes"] if c["object"] == "Secret/default/db")
    assert "*** (before)" in secret["diff"] and "*** (after)" in secret["diff"]
    assert "user: '***'" in secret["diff"]  # unchanged values stay masked without a marker
    for fmt in ("json", "text", "markdown", "yaml"):
        _, text, err = _run(capsys, "diff", "-C", str(repo), "-o", fmt)
        for leak in (CANARY, base64.b64encode((CANARY + "-after").encode()).decode()):
            assert leak not in text + err


def test_two_committed_revisions(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo, {"apps/cm.yaml": [cm("settings", replicas="5"), _secret(CANARY + "-before")]})
    git(repo, "commit", "-qam", "bump")
    code, out, _ = _run(capsys, "diff", "HEAD~1", "HEAD", "-C", str(repo))
    assert code == 1
    assert "~ ConfigMap/default/settings" in out
    assert "1 of 1 clusters change" in out
    code, out, _ = _run(capsys, "diff", "HEAD", "HEAD", "-C", str(repo))
    assert code == 0


def test_head_render_error_exits_2(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo, {"clusters/test/apps.yaml": [ks("apps", "./does-not-exist")]})
    code, _, err = _run(capsys, "diff", "-C", str(repo))
    assert code == 2
    assert "kustomization path not found" in err


def test_unknown_revision_is_a_user_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "diff", "nope-rev", "-C", str(repo))
    assert code == 2
    assert "unknown revision 'nope-rev'" in err


def test_git_tree_helpers(repo: Path, tmp_path: Path) -> None:
    base = resolve(repo, "HEAD")
    git(repo, "checkout", "-q", "-b", "topic")
    write(repo, {"extra.txt": "x\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "topic")
    assert default_branch(repo) == "main"
    assert merge_base(repo, "main", "HEAD") == base
    files = read_files(repo, "main")
    assert "apps/cm.yaml" in files and "extra.txt" not in files
    assert files["apps/cm.yaml"] == (repo / "apps/cm.yaml").read_bytes()


def test_diff_groups_changes_and_limits_markdown(tmp_path: Path) -> None:
    files: dict[str, object] = {}
    for env in ("dev", "prod"):
        for region in ("eu", "us"):
            files[f"clusters/{env}-{region}/flux-system/gotk-sync.yaml"] = "# placeholder\n"
            files[f"clusters/{env}-{region}/app.yaml"] = [ks("app", f"./apps/{env}")]
        files[f"apps/{env}/cm.yaml"] = [cm("c", big="x" * 50)]
    base_repo = write(tmp_path / "a", files)
    files["apps/prod/cm.yaml"] = [cm("c", big="y" * 5000)]
    head_repo = write(tmp_path / "b", files)
    base = render(base_repo)
    head = [r for r in render(head_repo)]
    labelled = []
    for r in head:
        env, region = r.cluster.split("-")
        labelled.append(
            type(r)(r.cluster, r.path, {"environment": env, "region": region}, r.kustomizations, r.errors)
        )
    result = compare(base, labelled)
    assert [c.cluster for c in result.clusters if c.changes] == ["prod-eu", "prod-us"]
    from fluxfleet.diff.compare import summary

    assert summary(result)["environment"] == {"prod": ["prod-eu", "prod-us"]}
    markdown = as_markdown(result, [], limit=6000)
    assert len(markdown) <= 6000
    assert "omitted" in markdown
    assert "| prod-eu | 0 | 1 | 0 |" in markdown
