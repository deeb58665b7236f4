"""Wave rollouts end to end: pins in fleet.yaml, spec.images in the generated Kustomizations,
per-wave soak, the overlay taking over after the last wave, and rollback mid-rollout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from promote_helpers import OLD, ff, git, head, make_repo, overlay, status, trailers

from fluxfleet import yamlio


def _staging_soaked(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in OLD.items():
        monkeypatch.setenv(k, v)
    assert ff(repo, "promote", "web", "--to", "staging") == 0
    monkeypatch.delenv("GIT_COMMITTER_DATE")


def _images(repo: Path, cluster_dir: str) -> object:
    doc = yamlio.load_all((repo / cluster_dir / "apps/web.yaml").read_text())[0]
    return doc["spec"].get("images")


def test_waves_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "r")
    _staging_soaked(repo, monkeypatch)
    start = head(repo)
    fleet_before = (repo / "fleet.yaml").read_text()

    # wave 1: canary (us-west-2) is pinned; the overlay stays
    assert ff(repo, "promote", "web", "--to", "prod", "--approve") == 0
    t = trailers(repo)
    assert (t["Fluxfleet-Wave"], t["Fluxfleet-Clusters"]) == ("canary 1/2", "prod-a")
    assert "newTag: v1" in overlay(repo, "web", "prod")
    assert _images(repo, "clusters/prod/us-west-2") == [{"name": "ghcr.io/acme/web", "newTag": "v2"}]
    assert _images(repo, "clusters/prod/eu-west-1") is None
    assert "pins:" in (repo / "fleet.yaml").read_text()
    changed = set(git(repo, "show", "--name-only", "--format=", "HEAD").split())
    assert changed == {"fleet.yaml", "clusters/prod/us-west-2/apps/web.yaml"}

    capsys.readouterr()
    assert ff(repo, "rollout", "status", "web", "--env", "prod", "-o", "json") == 0
    st = json.loads(capsys.readouterr().out)
    assert st["rollingOut"] == "v2" and [w["state"] for w in st["waves"]] == ["done", "next"]
    assert st["clusters"] == {"prod-a": "v2", "prod-b": "v1", "prod-c": "v1"}

    # wave 2 waits for the canary's 30m soak
    assert ff(repo, "promote", "web", "--to", "prod", "--approve") == 3
    assert "wave canary landed" in capsys.readouterr().err

    # had the canary landed long ago, wave 2 goes ahead: overlay carries v2, pins are gone
    git(repo, "reset", "-q", "--hard", start)
    for k, v in OLD.items():
        monkeypatch.setenv(k, v)
    assert ff(repo, "promote", "web", "--to", "prod", "--approve", "--force", "test: staging soak") == 0
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    assert ff(repo, "promote", "web", "--to", "prod", "--approve") == 0
    t = trailers(repo)
    assert t["Fluxfleet-Wave"] == "rest 2/2" and "soak=pass" in t["Fluxfleet-Gates"]
    assert t["Fluxfleet-Clusters"] == "prod-b,prod-c"
    assert "newTag: v2" in overlay(repo, "web", "prod")
    assert (repo / "fleet.yaml").read_text() == fleet_before
    # generated files are exactly as before the rollout began
    assert git(repo, "diff", start, "HEAD", "--", "clusters") == ""
    assert status(repo) == ""


def test_rollback_mid_rollout_restores_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "r")
    _staging_soaked(repo, monkeypatch)
    start = head(repo)
    assert ff(repo, "promote", "web", "--to", "prod", "--approve") == 0
    assert ff(repo, "rollback", "web", "--env", "prod") == 3  # approval still required
    assert ff(repo, "rollback", "web", "--env", "prod", "--approve") == 0
    t = trailers(repo)
    assert (t["Fluxfleet-Bad-Version"], t["Fluxfleet-Clusters"]) == ("v2", "prod-a")
    assert git(repo, "diff", start, "HEAD") == ""


def test_other_rollout_in_progress_blocks_unless_forced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "r")
    _staging_soaked(repo, monkeypatch)
    assert ff(repo, "promote", "web", "--to", "prod", "--approve") == 0
    capsys.readouterr()
    assert ff(repo, "promote", "web", "--to", "prod", "--version", "v9", "--approve", "--force", "x") == 0
    t = trailers(repo)
    assert "rollout" in t["Fluxfleet-Forced"] and t["Fluxfleet-Version"] == "v9"
    assert _images(repo, "clusters/prod/us-west-2") == [{"name": "ghcr.io/acme/web", "newTag": "v9"}]


def test_unmatched_clusters_join_the_last_wave(tmp_path: Path) -> None:
    from fluxfleet.fleet.load import load_fleet
    from fluxfleet.promote.state import slice_waves

    repo = make_repo(tmp_path / "r")
    text = (
        (repo / "fleet.yaml")
        .read_text()
        .replace(
            "          - name: rest\n",
            "          - name: europe\n            selector:\n              matchLabels:\n                region: eu-west-1\n",
        )
    )
    (repo / "fleet.yaml").write_text(text)
    waves = slice_waves(load_fleet(repo), "prod", ("prod-a", "prod-b", "prod-c"))
    assert [(w.name, w.clusters) for w in waves] == [
        ("canary", ("prod-a",)),
        ("europe", ("prod-b", "prod-c")),
    ]


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        (
            "freezes:\n          - {start: '2026-01-01', end: '2026-02-01T00:00:00Z', reason: r}",
            "needs a UTC offset",
        ),
        ("windows:\n          - {timezone: Mars/Olympus}", "unknown time zone"),
        ("windows:\n          - {start: '18:00', end: '09:00'}", "must be before"),
    ],
)
def test_bad_promotion_config_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], snippet: str, message: str
) -> None:
    repo = make_repo(tmp_path / "r")
    text = (
        (repo / "fleet.yaml")
        .read_text()
        .replace("        approval: true\n", f"        approval: true\n        {snippet}\n")
    )
    (repo / "fleet.yaml").write_text(text)
    git(repo, "commit", "-qam", "config")
    assert ff(repo, "promote", "web", "--to", "staging") == 2
    err = capsys.readouterr().err
    assert message in err and "fleet.yaml" in err


def test_a_wave_without_its_own_soak_takes_the_environment_soak(tmp_path: Path) -> None:
    from promote_helpers import fleet_text

    from fluxfleet.fleet.load import load_fleet
    from fluxfleet.promote.state import slice_waves

    (tmp_path / "fleet.yaml").write_text(fleet_text().replace("            soak: 30m\n", ""))
    fleet = load_fleet(tmp_path)
    waves = slice_waves(fleet, "prod", ("prod-a", "prod-b", "prod-c"))
    assert [(w.name, w.soak) for w in waves] == [("canary", "1h"), ("rest", "1h")]
    (tmp_path / "fleet.yaml").write_text(fleet_text().replace("soak: 30m", "soak: 0s"))
    assert [w.soak for w in slice_waves(load_fleet(tmp_path), "prod", ("prod-a", "prod-b"))] == ["0s", "1h"]
