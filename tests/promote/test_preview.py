"""The rendered preview (real kustomize through fluxfleet.render) and the checks gate; rollback
returns every cluster's render to byte-identical."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from promote_helpers import ff, head, make_repo, status, trailers

from fluxfleet import yamlio
from fluxfleet.render.api import RenderOptions
from fluxfleet.usecases.render import BuildRequest, build_workspace
from fluxfleet.usecases.workspace import Workspace


def _renders(repo: Path) -> dict[str, str]:
    out = {}
    for r in build_workspace(
        BuildRequest(Workspace.open(repo), options=RenderOptions(use_cache=False))
    ).renders:
        assert not r.errors, r.errors
        out[r.cluster] = yamlio.dump_all([o.body for o in r.objects])
    return out


def test_preview_shows_rendered_diff_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo(tmp_path / "r")
    assert ff(repo, "promote", "web", "--to", "staging", "--dry-run", render=True) == 0
    out = capsys.readouterr().out
    assert "Rendered diff:" in out and "~ Deployment/web/web" in out
    assert "2 of 2 clusters change" in out
    assert "0 new failing finding(s)" in out
    assert ff(repo, "promote", "web", "--to", "staging", "-o", "json", render=True) == 0
    data = json.loads(capsys.readouterr().out)
    assert {c["cluster"] for c in data["diff"]["clusters"]} == {"staging-a", "staging-b"}
    assert "checks=pass" in trailers(repo)["Fluxfleet-Gates"]


def test_promotion_that_fails_checks_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo(tmp_path / "r")
    before = head(repo)
    assert ff(repo, "promote", "api", "--to", "dev", "--version", "latest", render=True) == 3
    err = capsys.readouterr().err
    assert "checks:" in err and "new finding" in err
    assert head(repo) == before and status(repo) == ""
    assert (
        ff(repo, "promote", "api", "--to", "dev", "--version", "latest", "--force", "spike", render=True) == 0
    )
    assert trailers(repo)["Fluxfleet-Forced"] == "checks"


def test_rollback_renders_byte_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "r")
    start = _renders(repo)
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2020-01-02T00:00:00Z")
    assert ff(repo, "promote", "web", "--to", "staging") == 0
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    assert ff(repo, "promote", "web", "--to", "prod", "--approve", render=True) == 0  # canary wave pinned
    mid = _renders(repo)
    assert mid["prod-a"] != start["prod-a"] and mid["prod-b"] == start["prod-b"]
    assert ff(repo, "rollback", "web", "--env", "prod", "--approve", render=True) == 0
    assert ff(repo, "rollback", "web", "--env", "staging", render=True) == 0
    assert _renders(repo) == start


def test_cluster_team_label_is_named_apart_from_the_app_team(tmp_path: Path) -> None:
    from fluxfleet.cli.main import main
    from fluxfleet.fleet.load import load_fleet
    from fluxfleet.promote.preview import cluster_groups

    repo = tmp_path / "fleet"
    assert main(["init", "--example", str(repo)]) == 0
    fleet = load_fleet(repo)
    groups = cluster_groups(fleet, ("prod-us-west-2",))
    # the example's clusters carry `team: platform`; the app belongs to team-a
    assert groups == {"prod": {"us-west-2": ["prod-us-west-2 (cluster label team=platform)"]}}
