"""Gates that trusted too much: rollback targets that never ran, bad-version marks on the branch
promoted into, ledger trailers on commits that do not carry them out, reverts that conflict."""

from __future__ import annotations

from pathlib import Path

import pytest

from promote.promote_helpers import ff, git, head, make_repo, overlay


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "fleet")


def test_rollback_to_a_version_that_ran_before_or_passed_the_earlier_env(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ff(repo, "promote", "web", "--to", "staging") == 0  # staging: v1 -> v2
    # v1 ran in staging before: allowed
    assert ff(repo, "rollback", "web", "--env", "staging", "--to", "v1", "--no-mark-bad") == 0
    assert "newTag: v1" in overlay(repo, "web", "staging")
    # v2 passed dev (the earlier environment): allowed for prod, which never ran it
    assert ff(repo, "rollback", "web", "--env", "prod", "--to", "v2", "--no-mark-bad", "--approve") == 0
    # v9 ran nowhere: refused (gate, exit 3), and nothing changed
    before = head(repo)
    assert ff(repo, "rollback", "web", "--env", "prod", "--to", "v9", "--approve") == 3
    assert "known-version: v9 never ran in prod or staging" in capsys.readouterr().err
    assert head(repo) == before


def test_revert_that_does_not_apply_is_a_user_error_naming_files(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ff(repo, "promote", "web", "--to", "staging") == 0
    promo = head(repo)
    path = repo / "apps/web/overlays/staging/kustomization.yaml"
    path.write_text(path.read_text().replace("newTag: v2", "newTag: v3-hand-edit"))
    git(repo, "commit", "-qam", "hand edit")
    before = head(repo)
    capsys.readouterr()
    assert ff(repo, "rollback", "--revert", promo) == 2
    err = capsys.readouterr().err
    assert "does not revert cleanly" in err and "apps/web/overlays/staging/kustomization.yaml" in err
    assert head(repo) == before and git(repo, "status", "--porcelain") == ""
