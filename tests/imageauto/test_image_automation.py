"""Image automation: fleet.yaml `automation`, the generated image.toolkit objects (valid against the
Flux CRDs), the setter markers, and promote refusing to write into an automated environment."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fluxfleet import yamlio
from fluxfleet.cli.main import main
from fluxfleet.generate.run import generate
from gitcmd import commit_all, git
from imageauto.crd_schema import crd_errors
from usecases.helpers import FLEET_HEAD

FLEET = (
    FLEET_HEAD
    + """\
  environments:
    - name: dev
    - name: staging
  clusters:
    - name: dev-b
      labels: {{environment: dev, region: eu-west-1}}
    - name: dev-a
      labels: {{environment: dev, region: us-west-2}}
    - name: staging-a
      labels: {{environment: staging, region: us-west-2}}
  apps:
    - name: web
      namespace: web
      images: [ghcr.io/acme/web]
      versions: {{dev: v2.0.0, staging: v1.0.0}}
{automation}
    - name: api
      namespace: api
      images: [ghcr.io/acme/api]
      versions: {{dev: v1, staging: v1}}
"""
)

SEMVER = """\
      automation:
        policy:
          semver: ">=2.0.0"
"""

ALPHA = """\
      automation:
        environments: [dev, staging]
        secretRef: ghcr-auth
        exclusionList: ["^.*-rc$"]
        policy:
          numerical: desc
        filterTags:
          pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)'
          extract: '$ts'
        interval: 2m
        pushBranch: image-updates
        author:
          name: bot
          email: bot@example.com
"""


def _repo(tmp_path: Path, automation: str) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir(parents=True)
    (repo / "fleet.yaml").write_text(FLEET.format(automation=automation))
    generate(repo)
    return repo


def _docs(path: Path) -> list[dict[str, object]]:
    return [d for d in yamlio.load_file(path) if d]


def test_generated_objects_are_valid_against_the_flux_crds(tmp_path: Path, shared_dir: Path) -> None:
    crds = shared_dir / "fixtures" / "flux-crds"
    for automation in (SEMVER, ALPHA):
        repo = _repo(tmp_path / str(len(automation)), automation)
        files = sorted(repo.glob("clusters/*/*/image-automation/web.yaml"))
        assert files
        for path in files:
            docs = _docs(path)
            assert [d["kind"] for d in docs] == ["ImageRepository", "ImagePolicy", "ImageUpdateAutomation"]
            for doc in docs:
                assert doc["apiVersion"] == "image.toolkit.fluxcd.io/v1"
                assert crd_errors(crds, doc) == [], (path, doc["kind"])


def test_crd_helper_rejects_unknown_and_mistyped_fields(shared_dir: Path) -> None:
    crds = shared_dir / "fixtures" / "flux-crds"
    bad = {
        "apiVersion": "image.toolkit.fluxcd.io/v1",
        "kind": "ImagePolicy",
        "metadata": {"name": "x"},
        "spec": {"imageRepositoryRef": {"name": "x"}, "policy": {"semver": {"rang": ">=1"}}},
    }
    errors = crd_errors(crds, bad)
    assert any("rang" in e for e in errors) and any("range" in e for e in errors)


def test_first_environment_by_default_one_writer_cluster_and_markers(tmp_path: Path) -> None:
    repo = _repo(tmp_path, SEMVER)
    # dev-b comes first in fleet.yaml: it alone runs the automation (no two pushers per folder)
    assert sorted(p.parent.parent.name for p in repo.glob("clusters/*/*/image-automation/web.yaml")) == [
        "eu-west-1"
    ]
    root = yamlio.load_file(repo / "clusters/dev/eu-west-1/kustomization.yaml")[0]
    assert "image-automation" in root["resources"]
    assert "image-automation" not in (repo / "clusters/dev/us-west-2/kustomization.yaml").read_text()
    iua = _docs(repo / "clusters/dev/eu-west-1/image-automation/web.yaml")[2]
    assert iua["spec"]["update"] == {"path": "./apps/web/overlays/dev", "strategy": "Setters"}
    assert iua["spec"]["git"]["push"] == {"branch": "main"}
    assert iua["spec"]["git"]["commit"]["messageTemplateValues"] == {"app": "web", "environment": "dev"}
    dev = (repo / "apps/web/overlays/dev/kustomization.yaml").read_text()
    assert 'newTag: v2.0.0 # {"$imagepolicy": "flux-system:web:tag"}' in dev
    assert "$imagepolicy" not in (repo / "apps/web/overlays/staging/kustomization.yaml").read_text()
    assert "$imagepolicy" not in (repo / "apps/api/overlays/dev/kustomization.yaml").read_text()


def test_policy_options_reach_the_objects(tmp_path: Path) -> None:
    repo = _repo(tmp_path, ALPHA)
    image_repo, policy, iua = _docs(repo / "clusters/staging/us-west-2/image-automation/web.yaml")
    assert image_repo["spec"] == {
        "image": "ghcr.io/acme/web",
        "interval": "2m0s",
        "exclusionList": ["^.*-rc$"],
        "secretRef": {"name": "ghcr-auth"},
    }
    assert policy["spec"]["policy"] == {"numerical": {"order": "desc"}}
    assert policy["spec"]["filterTags"] == {"pattern": "^main-[a-f0-9]+-(?P<ts>[0-9]+)", "extract": "$ts"}
    assert iua["spec"]["git"]["push"] == {"branch": "image-updates"}
    assert iua["spec"]["git"]["checkout"] == {"ref": {"branch": "main"}}
    assert iua["spec"]["git"]["commit"]["author"] == {"name": "bot", "email": "bot@example.com"}
    assert iua["spec"]["update"]["path"] == "./apps/web/overlays/staging"


@pytest.mark.parametrize(
    ("automation", "message", "line"),
    [
        (
            "      automation:\n        environments: [qa]\n        policy: {semver: '>=1'}\n",
            "undeclared environment 'qa'",
            21,
        ),
        ("      automation:\n        policy: {semver: '>=1', numerical: asc}\n", "exactly one of", 22),
        (
            "      automation:\n        policy: {semver: '>=1'}\n        pushBranch: 'a b'\n",
            "valid git branch",
            23,
        ),
        ("      automation:\n        policy: {alphabetical: up}\n", "asc", 22),
        (
            "      automation:\n        image: ghcr.io/acme/web:v1\n        policy: {semver: '>=1'}\n",
            "no tag",
            22,
        ),
        # below: values Flux would reject at reconcile time (or that break the YAML), caught at load
        ("      automation:\n        policy: {semver: 'latest'}\n", "not a semver range", 22),
        (
            "      automation:\n        policy: {semver: '>=1'}\n        filterTags: {pattern: '(?<=v)1'}\n",
            "RE2",
            23,
        ),
        (
            "      automation:\n        policy: {numerical: asc}\n"
            "        filterTags: {pattern: '^(?P<ts>[0-9]+)$', extract: '$tss'}\n",
            "names group 'tss'",
            23,
        ),
        (
            "      automation:\n        policy: {semver: '>=1'}\n        exclusionList: ['(x']\n",
            "not a regular expression",
            23,
        ),
        (
            '      automation:\n        image: "ghcr.io/acme/web\\n- evil"\n        policy: {semver: ">=1"}\n',
            "not a valid image repository",
            22,
        ),
    ],
)
def test_bad_automation_is_a_located_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], automation: str, message: str, line: int
) -> None:
    (tmp_path / "fleet.yaml").write_text(FLEET.format(automation=automation))
    assert main(["generate", "-C", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "fleet.yaml:" in err
    assert not (tmp_path / "clusters").exists()


def _committed(tmp_path: Path) -> Path:
    repo = _repo(tmp_path, SEMVER)
    commit_all(repo)
    return repo


def test_promote_into_an_automated_environment_needs_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _committed(tmp_path)
    before = git(repo, "rev-parse", "HEAD")
    args = ["promote", "web", "--to", "dev", "--version", "v2.1.0", "--skip-checks", "t", "-C", str(repo)]
    assert main(args) == 3
    assert "image automation writes web's tag in dev" in capsys.readouterr().err
    assert git(repo, "rev-parse", "HEAD") == before
    assert main([*args, "--force", "hotfix INC-1"]) == 0
    dev = (repo / "apps/web/overlays/dev/kustomization.yaml").read_text()
    # the setter marker survives the edit, so the automation keeps working afterwards
    assert 'newTag: v2.1.0 # {"$imagepolicy": "flux-system:web:tag"}' in dev


def test_promote_out_of_the_automated_environment_is_not_held(tmp_path: Path) -> None:
    repo = _committed(tmp_path)
    args = ["promote", "web", "--to", "staging", "--skip-checks", "t", "-C", str(repo)]
    assert main(args) == 0
    assert "newTag: v2.0.0" in (repo / "apps/web/overlays/staging/kustomization.yaml").read_text()
    assert "automation=pass" in git(repo, "log", "-1", "--format=%B")


def _automation_commit(
    repo: Path, version: str, date: str, author: str = "fluxcdbot <fluxcdbot@users.noreply.github.com>"
) -> None:
    """What Flux's ImageUpdateAutomation pushes: the marker line rewritten, author and subject
    from the generated template (rendered here as the controller renders it)."""
    path = repo / "apps/web/overlays/dev/kustomization.yaml"
    text = path.read_text()
    path.write_text(text.replace("newTag: v2.0.0 #", f"newTag: {version} #"))
    env = {
        "GIT_AUTHOR_NAME": author.split(" <")[0],
        "GIT_AUTHOR_EMAIL": author.split(" <")[1].rstrip(">"),
        "GIT_COMMITTER_NAME": "fluxcdbot",
        "GIT_COMMITTER_EMAIL": "fluxcdbot@users.noreply.github.com",
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
    }
    res = subprocess.run(
        ["git", "commit", "-qam", f"image automation: update web to {version} in dev"],
        cwd=repo,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr


def test_versions_and_history_show_automation_commits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _committed(tmp_path)
    _automation_commit(repo, "v2.1.0", "2020-01-01T00:00:00Z")
    capsys.readouterr()
    assert main(["versions", "web", "-C", str(repo), "-o", "json"]) == 0
    envs = json.loads(capsys.readouterr().out)["apps"][0]["environments"]
    assert envs["dev"]["version"] == "v2.1.0" and envs["dev"]["byAutomation"] is True
    assert envs["staging"]["byAutomation"] is False
    assert main(["versions", "-C", str(repo)]) == 0
    assert "v2.1.0 (automation)" in capsys.readouterr().out
    assert main(["history", "web", "--env", "dev", "-C", str(repo)]) == 0
    out = capsys.readouterr().out
    assert "automation web dev: - -> v2.1.0" in out and "by fluxcdbot" in out
    # a later promotion into dev is the newest record: the cell no longer says automation
    assert (
        main(
            [
                "promote",
                "web",
                "--to",
                "dev",
                "--version",
                "v2.2.0",
                "--force",
                "hold",
                "--skip-checks",
                "t",
                "-C",
                str(repo),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["versions", "web", "-C", str(repo), "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["apps"][0]["environments"]["dev"]["byAutomation"] is False


@pytest.mark.parametrize(("date", "exit_code"), [("2020-01-01T00:00:00Z", 0), ("now", 3)])
def test_soak_counts_from_the_automation_commit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], date: str, exit_code: int
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    fleet = FLEET.format(automation=SEMVER).replace(
        "    - name: staging\n", "    - name: staging\n      promotion: {soak: 1h}\n"
    )
    (repo / "fleet.yaml").write_text(fleet)
    generate(repo)
    commit_all(repo)
    _automation_commit(repo, "v2.1.0", date if date != "now" else datetime.now(UTC).isoformat())
    args = ["promote", "web", "--to", "staging", "--skip-checks", "t", "-C", str(repo)]
    assert main(args) == exit_code
    if exit_code:
        assert "soak" in capsys.readouterr().err
    else:
        assert "newTag: v2.1.0" in (repo / "apps/web/overlays/staging/kustomization.yaml").read_text()


def test_rollback_keeps_the_marker(tmp_path: Path) -> None:
    repo = _committed(tmp_path)
    base = ["--skip-checks", "t", "-C", str(repo)]
    assert main(["promote", "web", "--to", "dev", "--version", "v2.1.0", "--force", "hotfix", *base]) == 0
    assert main(["rollback", "web", "--env", "dev", *base]) == 0
    dev = (repo / "apps/web/overlays/dev/kustomization.yaml").read_text()
    assert 'newTag: v2.0.0 # {"$imagepolicy": "flux-system:web:tag"}' in dev


def test_only_the_automations_author_writes_automation_versions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # anyone can type the template's subject; gates (soak) count from these commits
    repo = _committed(tmp_path)
    _automation_commit(repo, "v2.1.0", "2020-01-01T00:00:00Z", author="mallory <m@example.com>")
    capsys.readouterr()
    assert main(["versions", "web", "-C", str(repo), "-o", "json"]) == 0
    envs = json.loads(capsys.readouterr().out)["apps"][0]["environments"]
    assert envs["dev"]["version"] == "v2.1.0" and envs["dev"]["byAutomation"] is False
