"""Gates that trusted too much: rollback targets that never ran, bad-version marks on the branch
promoted into, ledger trailers on commits that do not carry them out, reverts that conflict."""

from __future__ import annotations

from pathlib import Path

import pytest

from promote.promote_helpers import ff, git, head, make_repo, overlay, trailers, with_remote


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


def test_marks_on_the_branch_promoted_into_refuse_an_older_fork(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = make_repo(tmp_path / "origin-src")
    _, (a, b) = with_remote(src, tmp_path, clones=2)
    git(b, "checkout", "-q", "-b", "feature")  # forked before the mark
    assert ff(a, "promote", "web", "--to", "staging", "--push") == 0
    assert ff(a, "rollback", "web", "--env", "staging", "--push") == 0  # marks v2 bad on main
    assert trailers(a)["Fluxfleet-Bad-Version"] == "v2"
    before = head(b)
    capsys.readouterr()
    assert ff(b, "promote", "web", "--to", "staging", "--branch", "--push") == 3
    assert "not-bad: v2 was marked bad" in capsys.readouterr().err
    assert head(b) == before and git(b, "branch", "--list", "fluxfleet/*") == ""
    # Without --push the remote-tracking branch as last fetched is read.
    git(b, "fetch", "-q", "origin")
    assert ff(b, "promote", "web", "--to", "staging", "--branch") == 3
    assert head(b) == before


def test_trailers_on_a_commit_that_does_not_carry_them_out_prove_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = (
        "rollback web in staging\n\nFluxfleet-Action: rollback\nFluxfleet-App: web\nFluxfleet-Env: staging\n"
        "Fluxfleet-Version: v1\nFluxfleet-Bad-Version: v2\n"
    )
    git(repo, "commit", "-q", "--allow-empty", "-m", fake)
    # An empty commit marks nothing bad: the promotion goes through.
    assert ff(repo, "promote", "web", "--to", "staging") == 0
    assert "newTag: v2" in overlay(repo, "web", "staging")
    # A real rollback (its commit moves the overlay) does mark v2 bad.
    assert ff(repo, "rollback", "web", "--env", "staging") == 0
    capsys.readouterr()
    assert ff(repo, "promote", "web", "--to", "staging") == 3
    assert "not-bad: v2 was marked bad" in capsys.readouterr().err


def test_an_empty_commit_with_trailers_cannot_be_reverted_or_block_a_revert(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = "promote web v9\n\nFluxfleet-Action: promote\nFluxfleet-App: web\nFluxfleet-Env: staging\nFluxfleet-Version: v9\n"
    git(repo, "commit", "-q", "--allow-empty", "-m", fake)
    assert ff(repo, "rollback", "--revert", head(repo)) == 2
    assert "did not change web's version in staging" in capsys.readouterr().err
    assert ff(repo, "promote", "web", "--to", "staging") == 0
    promo = head(repo)
    # A fake "Reverts:" record does not make the real promotion count as reverted already.
    claim = f"x\n\nFluxfleet-Action: revert\nFluxfleet-App: web\nFluxfleet-Env: staging\nFluxfleet-Reverts: {promo}\n"
    git(repo, "commit", "-q", "--allow-empty", "-m", claim)
    assert ff(repo, "rollback", "--revert", promo) == 0
    assert trailers(repo)["Fluxfleet-Reverts"] == promo
