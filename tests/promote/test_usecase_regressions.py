"""Regressions of issue 11 in promotion: the checks gate applies the team's Rego policies (the same
CheckSetup as ``fluxfleet check``), ``rollback --revert`` honours ``promotion.mode: branch``,
and ``--push`` pushes to the branch's upstream."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from promote_helpers import OLD, ff, fleet_text, git, head, make_repo, status, trailers, with_remote

from fluxfleet.cli.main import main
from fluxfleet.generate.run import generate
from fluxfleet.promote.plan import PromoteRequest
from fluxfleet.render.api import RenderOptions
from fluxfleet.usecases.fakes import RecordingTree
from fluxfleet.usecases.promote import Delivery, PromoteCommand, promote_app
from fluxfleet.usecases.workspace import Workspace

DENY_V2 = """package main

import rego.v1

deny contains msg if {
  input.kind == "Deployment"
  some c in input.spec.template.spec.containers
  endswith(c.image, ":v2")
  msg := sprintf("%s: v2 is recalled", [input.metadata.name])
}
"""


def _policy_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    text = fleet_text().replace("spec:\n", "spec:\n  policy:\n    rego: [policy]\n", 1)
    (path / "fleet.yaml").write_text(text)
    (path / "policy").mkdir()
    (path / "policy" / "main.rego").write_text(DENY_V2)
    generate(path)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "fleet", env={"GIT_COMMITTER_DATE": "2020-01-01T00:00:00Z"})
    return path


@pytest.mark.slow
def test_checks_gate_applies_the_teams_rego_policies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _policy_repo(tmp_path / "r")
    before = head(repo)
    assert ff(repo, "promote", "web", "--to", "staging", render=True) == 3
    captured = capsys.readouterr()
    assert "checks:" in captured.err and "new finding" in captured.err
    assert "v2 is recalled" in captured.out
    assert head(repo) == before and status(repo) == ""
    # The same version through `check` fails the same way once it lands (forced here).
    assert ff(repo, "promote", "web", "--to", "staging", "--force", "recall test", render=True) == 0
    assert main(["check", "-C", str(repo), "-c", "staging-a", "-r", "rego-policy"]) == 1


def test_rollback_revert_honours_branch_mode(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", staging="      promotion:\n        mode: branch\n")
    assert ff(repo, "promote", "web", "--to", "staging", "--direct") == 0
    promoted = head(repo)
    assert ff(repo, "rollback", "--revert", promoted) == 0
    assert head(repo) == promoted  # main is untouched: the revert waits on a branch for review
    branches = git(repo, "branch", "--format=%(refname:short)").split()
    revert_branch = next(b for b in branches if b.startswith("fluxfleet/revert/"))
    assert trailers(repo, revert_branch)["Fluxfleet-Reverts"] == promoted


def test_push_goes_to_the_tracked_upstream_branch(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    bare, (clone,) = with_remote(repo, tmp_path)
    git(clone, "checkout", "-q", "-b", "my-work", "--track", "origin/main")
    assert ff(clone, "promote", "web", "--to", "staging", "--push") == 0
    assert git(bare, "rev-parse", "main").strip() == head(clone)
    assert git(bare, "branch", "--list", "my-work").strip() == ""
    shutil.rmtree(clone)


def test_committer_dates_do_not_matter_to_the_clock(tmp_path: Path) -> None:
    """Soak is measured with the clock the CLI is given: at a moment right after the landing, the
    soak gate refuses; a day later it passes."""
    repo = make_repo(tmp_path / "r")
    assert ff(repo, "promote", "web", "--to", "staging") == 0
    git(
        repo,
        "commit",
        "-q",
        "--amend",
        "--no-edit",
        env={**OLD, "GIT_COMMITTER_DATE": "2026-03-02T10:00:00Z"},
    )
    env = ["promote", "web", "--to", "prod", "--approve", "--dry-run"]
    assert ff(repo, *env, "--now", "2026-03-02T10:10:00Z") == 3
    assert ff(repo, *env, "--now", "2026-03-03T10:10:00Z") == 0


def test_promote_dry_run_reads_the_fleet_once(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    trees: list[RecordingTree] = []

    def open_recording(root: Path) -> Workspace:
        tree = RecordingTree(Workspace.open(root).files(), root)
        trees.append(tree)
        return Workspace(root, tree)

    command = PromoteCommand(repo, PromoteRequest("web", "staging"), Delivery(dry_run=True))
    result = promote_app(
        command, open_workspace=open_recording, render_options=RenderOptions(use_cache=False)
    )
    assert result.outcome.dry_run and result.change.version == "v2"
    assert {g.name: g.status.value for g in result.change.gates}["checks"] == "pass"
    # One attempt, one HEAD: the decision, the preview and the checks gate share one fleet.
    assert [t.reads["fleet.yaml"] for t in trees] == [1]
    assert status(repo) == ""
