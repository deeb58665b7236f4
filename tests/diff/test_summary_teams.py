"""The diff/promote summary keeps a cluster's `team` label apart from the teams owning what changed."""

from __future__ import annotations

from fluxfleet.diff.compare import ClusterChanges, DiffResult, ObjectChange, summary
from fluxfleet.diff.report import as_text


def test_cluster_label_team_and_app_team_are_named_apart() -> None:
    change = ObjectChange("changed", "Deployment/myapp/myapp", "apps/v1", "flux-system/app-myapp")
    cluster = ClusterChanges(
        "staging-a",
        {"environment": "staging", "region": "a", "team": "platform"},
        changes=[change],
        teams={"team-a"},
    )
    groups = summary(DiffResult([cluster], "HEAD", "work tree"))
    assert groups["cluster label team"] == {"platform": ["staging-a"]}
    assert groups["app team"] == {"team-a": ["staging-a"]}
    assert "team" not in groups
    text = as_text(DiffResult([cluster], "HEAD", "work tree"))
    assert (
        "by cluster label team: platform (1: staging-a)" in text
        and "by app team: team-a (1: staging-a)" in text
    )
