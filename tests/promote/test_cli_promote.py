"""promote / rollback / history end to end with real git (no remote)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from promote_helpers import OLD, ff, git, head, make_repo, overlay, status, trailers

from fluxfleet.cli.main import main


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "fleet")


def test_promote_dev_to_staging_commits_with_trailers(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ff(repo, "promote", "web", "--to", "staging") == 0
    out = capsys.readouterr().out
    assert "Clusters affected (2)" in out and "us-west-2: staging-a (cluster label team=t-us-west-2)" in out
    assert "newTag: v2" in overlay(repo, "web", "staging")
    t = trailers(repo)
    assert t["Fluxfleet-Action"] == "promote"
    assert (t["Fluxfleet-App"], t["Fluxfleet-Env"], t["Fluxfleet-From"]) == ("web", "staging", "dev")
    assert (t["Fluxfleet-Version"], t["Fluxfleet-Previous-Version"]) == ("v2", "v1")
    assert t["Fluxfleet-Checked-On"] == git(repo, "rev-parse", "HEAD^").strip()
    assert "source=pass" in t["Fluxfleet-Gates"] and "checks=skip" in t["Fluxfleet-Gates"]
    assert t["Fluxfleet-Skipped-Checks"] == "unit test"
    assert git(repo, "log", "-1", "--format=%s").strip() == "promote web v2 to staging (from dev)"
    assert status(repo) == ""
    # only the overlay changed
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == [
        "apps/web/overlays/staging/kustomization.yaml"
    ]


def test_dry_run_changes_nothing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = head(repo)
    assert ff(repo, "promote", "web", "--to", "staging", "--dry-run", "-o", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["dryRun"] is True and data["commit"] is None
    assert data["files"][0]["path"] == "apps/web/overlays/staging/kustomization.yaml"
    assert data["clusterGroups"] == {
        "staging": {
            "us-west-2": ["staging-a (cluster label team=t-us-west-2)"],
            "eu-west-1": ["staging-b (cluster label team=t-eu-west-1)"],
        }
    }
    assert head(repo) == before and status(repo) == ""


def test_overlay_comments_survive(repo: Path) -> None:
    path = repo / "apps/web/overlays/staging/kustomization.yaml"
    text = path.read_text().replace("images:\n", "# pinned by the release train\nimages:\n")
    text = text.replace("  newTag: v1", "  newTag: v1  # keep me")
    path.write_text(text)
    git(repo, "commit", "-qam", "comment")
    assert ff(repo, "promote", "web", "--to", "staging") == 0
    assert path.read_text() == text.replace("newTag: v1  #", "newTag: v2  #")


def test_new_version_enters_dev(repo: Path) -> None:
    assert ff(repo, "promote", "api", "--to", "dev", "--version", "v3") == 0
    assert "newTag: v3" in overlay(repo, "api", "dev")
    assert trailers(repo)["Fluxfleet-Gates"].startswith("source=skip")


def test_first_env_needs_version(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ff(repo, "promote", "api", "--to", "dev") == 2
    assert "--version" in capsys.readouterr().err


def test_noop_when_already_there(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = head(repo)
    assert ff(repo, "promote", "web", "--to", "dev", "--version", "v2") == 0
    assert "nothing to do" in capsys.readouterr().out
    assert head(repo) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["promote", "webb", "--to", "staging"], "did you mean `web`"),
        (["promote", "web", "--to", "stagin"], "did you mean `staging`"),
        (["promote", "web", "--to", "staging", "--version", "bad tag!"], "not a valid image tag"),
        (["rollback", "web", "--env", "nope"], "unknown environment"),
        (["promote", "web", "--to", "staging", "--force", " "], "needs a reason"),
    ],
)
def test_bad_input_is_a_clear_error(
    repo: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    before = head(repo)
    assert ff(repo, *args) == 2
    assert message in capsys.readouterr().err
    assert head(repo) == before and status(repo) == ""


def test_version_not_in_source_env_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = head(repo)
    assert ff(repo, "promote", "web", "--to", "staging", "--version", "v9") == 3
    assert "source: dev runs v2, not v9" in capsys.readouterr().err
    assert head(repo) == before and status(repo) == ""


def test_dirty_tree_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "apps/web/base/deployment.yaml").write_text("changed: true\n")
    before = head(repo)
    assert ff(repo, "promote", "web", "--to", "staging") == 2
    assert "uncommitted changes" in capsys.readouterr().err
    assert head(repo) == before
    assert (repo / "apps/web/base/deployment.yaml").read_text() == "changed: true\n"


def test_malformed_overlay_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = repo / "apps/web/overlays/staging/kustomization.yaml"
    path.write_text("images: [unclosed\n")
    git(repo, "commit", "-qam", "break")
    before = head(repo)
    assert ff(repo, "promote", "web", "--to", "staging") == 2
    err = capsys.readouterr().err
    assert "apps/web/overlays/staging/kustomization.yaml" in err
    assert head(repo) == before and path.read_text() == "images: [unclosed\n"


def test_digest_pinned_overlay_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = repo / "apps/web/overlays/staging/kustomization.yaml"
    path.write_text(path.read_text().replace("newTag: v1", "digest: sha256:abc"))
    git(repo, "commit", "-qam", "digest")
    assert ff(repo, "promote", "web", "--to", "staging") == 2
    assert "by digest" in capsys.readouterr().err


def test_repository_without_commits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo(tmp_path / "r")
    git(repo, "update-ref", "-d", "HEAD")
    assert ff(repo, "promote", "web", "--to", "staging") == 2
    assert "no commits" in capsys.readouterr().err


def test_rollback_restores_previous_and_marks_bad(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = head(repo)
    assert ff(repo, "promote", "web", "--to", "staging") == 0
    assert ff(repo, "rollback", "web", "--env", "staging") == 0
    # every file is byte-identical to before the promotion
    assert git(repo, "diff", before, "HEAD") == ""
    t = trailers(repo)
    assert (t["Fluxfleet-Action"], t["Fluxfleet-Version"], t["Fluxfleet-Bad-Version"]) == (
        "rollback",
        "v1",
        "v2",
    )
    capsys.readouterr()
    # the bad version is refused ...
    assert ff(repo, "promote", "web", "--to", "staging") == 3
    assert "not-bad: v2 was marked bad" in capsys.readouterr().err
    # ... unless forced, and the reason is recorded
    assert ff(repo, "promote", "web", "--to", "staging", "--force", "fixed config, INC-7") == 0
    t = trailers(repo)
    assert t["Fluxfleet-Forced"] == "not-bad"
    assert t["Fluxfleet-Forced-Reason"] == "fixed config, INC-7"


def test_rollback_to_given_version_and_nothing_earlier(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ff(repo, "rollback", "web", "--env", "staging") == 2
    assert "no earlier good version" in capsys.readouterr().err
    # v0 never ran anywhere: refused by the known-version gate unless forced
    assert ff(repo, "rollback", "web", "--env", "staging", "--to", "v0", "--no-mark-bad") == 3
    assert "known-version: v0 never ran in staging or dev" in capsys.readouterr().err
    assert (
        ff(repo, "rollback", "web", "--env", "staging", "--to", "v0", "--no-mark-bad", "--force", "INC-1")
        == 0
    )
    assert "newTag: v0" in overlay(repo, "web", "staging")
    assert "Fluxfleet-Bad-Version" not in trailers(repo)


def test_revert_one_promotion(repo: Path) -> None:
    before = head(repo)
    assert ff(repo, "promote", "web", "--to", "staging") == 0
    promo = head(repo)
    assert ff(repo, "promote", "api", "--to", "staging") == 0
    assert ff(repo, "rollback", "--revert", promo) == 0
    t = trailers(repo)
    assert (t["Fluxfleet-Action"], t["Fluxfleet-Reverts"], t["Fluxfleet-Bad-Version"]) == (
        "revert",
        promo,
        "v2",
    )
    assert git(repo, "diff", before, "HEAD", "--", "apps/web") == ""
    assert "newTag: v2" in overlay(repo, "api", "staging")
    assert ff(repo, "rollback", "--revert", promo) == 2  # twice is refused
    assert ff(repo, "rollback", "--revert", before) == 2  # not a promotion


def test_history_from_trailers(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ff(repo, "promote", "web", "--to", "staging")
    ff(repo, "promote", "api", "--to", "staging")
    ff(repo, "rollback", "web", "--env", "staging")
    git(repo, "commit", "-q", "--allow-empty", "-m", "unrelated\n\nFluxfleet-Action: promote")
    capsys.readouterr()
    assert ff(repo, "history", "-o", "json") == 0
    entries = json.loads(capsys.readouterr().out)["entries"]
    assert [(e["action"], e["app"], e["version"]) for e in entries] == [
        ("rollback", "web", "v1"),
        ("promote", "api", "v2"),
        ("promote", "web", "v2"),
    ]
    assert entries[0]["badVersion"] == "v2" and entries[2]["from"] == "dev"
    assert ff(repo, "history", "web", "--env", "staging") == 0
    text = capsys.readouterr().out
    assert "rollback web staging: v2 -> v1" in text and "api" not in text
    assert "checks skipped: unit test" in text
    assert ff(repo, "history", "wbe") == 2
    assert "did you mean `web`?" in capsys.readouterr().err
    assert ff(repo, "history", "--env", "stagin") == 2
    not_git = repo.parent / "not-git"
    not_git.mkdir()
    assert main(["history", "-C", str(not_git)]) == 2


def test_skipping_checks_needs_a_reason(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = head(repo)
    assert main(["promote", "web", "--to", "staging", "--skip-checks", " ", "-C", str(repo)]) == 2
    assert "--skip-checks needs a reason" in capsys.readouterr().err
    assert head(repo) == before and status(repo) == ""


def test_versions_matrix(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ff(repo, "promote", "web", "--to", "staging")
    capsys.readouterr()
    assert ff(repo, "versions", "-o", "json") == 0
    data = json.loads(capsys.readouterr().out)
    web = next(a for a in data["apps"] if a["app"] == "web")
    assert {e: v["version"] for e, v in web["environments"].items()} == {
        "dev": "v2",
        "staging": "v2",
        "prod": "v1",
    }
    assert ff(repo, "versions", "web") == 0
    assert capsys.readouterr().out.split("\n")[1].split() == ["web", "v2", "v2", "v1"]


def test_soak_uses_landing_time_from_git(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ff(repo, "promote", "web", "--to", "staging") == 0  # landed just now
    capsys.readouterr()
    assert ff(repo, "promote", "web", "--to", "prod", "--approve") == 3
    assert "soak: v2 landed in staging" in capsys.readouterr().err
    # the same promotion landed long ago soaks long enough
    git(repo, "reset", "-q", "--hard", "HEAD^")
    for k, v in OLD.items():
        monkeypatch.setenv(k, v)
    assert ff(repo, "promote", "web", "--to", "staging") == 0
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    assert ff(repo, "promote", "web", "--to", "prod", "--approve") == 0
    assert "soak=pass" in trailers(repo)["Fluxfleet-Gates"]


def test_failed_commit_puts_every_file_back(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'hook says no' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = head(repo)
    fleet_before = (repo / "fleet.yaml").read_text()
    assert ff(repo, "promote", "web", "--to", "prod", "--version", "v2", "--approve", "--force", "t") == 2
    assert "hook says no" in capsys.readouterr().err
    assert head(repo) == before and status(repo) == ""
    assert (repo / "fleet.yaml").read_text() == fleet_before
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
