"""Each gate passing and failing: pure functions first, then through the CLI on a real repo."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from promote_helpers import ff, head, make_repo, status, trailers

from fluxfleet.fleet.promotion import ChangeWindow, Freeze
from fluxfleet.promote import gates as g
from fluxfleet.promote.health import EvidenceFile

# a Wednesday, 10:30 in Dublin (UTC+0 in winter) and 05:30 in New York
NOW = datetime(2026, 1, 14, 10, 30, tzinfo=UTC)


def test_window_is_time_zone_aware() -> None:
    business = ChangeWindow(
        days=("mon", "tue", "wed", "thu", "fri"), start="09:00", end="17:00", timezone="Europe/Dublin"
    )
    ny = ChangeWindow(start="09:00", end="17:00", timezone="America/New_York")
    assert g.window([business], NOW, exempt=False).status is g.Status.passed
    failed = g.window([ny], NOW, exempt=False)
    assert failed.status is g.Status.failed and "America/New_York" in failed.evidence
    assert g.window([ny, business], NOW, exempt=False).status is g.Status.passed
    weekend = ChangeWindow(days=("sat", "sun"), timezone="Europe/Dublin")
    assert g.window([weekend], NOW, exempt=False).status is g.Status.failed
    assert g.window([weekend], NOW, exempt=True).status is g.Status.skipped
    assert g.window([], NOW, exempt=False).status is g.Status.skipped


def test_freeze_with_reason_expiry_and_rollback_exemption() -> None:
    active = Freeze(start="2026-01-10T00:00:00+01:00", end="2026-01-20T00:00:00+01:00", reason="year-end")
    strict = Freeze(
        start="2026-01-10T00:00:00Z", end="2026-01-20T00:00:00Z", reason="audit", allowRollback=False
    )
    expired = Freeze(start="2025-12-01T00:00:00Z", end="2026-01-14T10:29:00Z", reason="old")
    res = g.freeze([active], NOW, rollback=False)
    assert res.status is g.Status.failed and "year-end" in res.evidence and "2026-01-20" in res.evidence
    assert g.freeze([active], NOW, rollback=True).status is g.Status.passed
    assert g.freeze([strict], NOW, rollback=True).status is g.Status.failed
    assert g.freeze([expired], NOW, rollback=False).status is g.Status.passed


def test_soak_gate() -> None:
    landed = ("a" * 40, int((NOW - timedelta(minutes=90)).timestamp()))
    assert g.soak("1h", landed, NOW, "x landed").status is g.Status.passed
    res = g.soak("2h", landed, NOW, "x landed")
    assert res.status is g.Status.failed and "30m to go" in res.evidence
    assert g.soak("1h", None, NOW, "x landed").status is g.Status.failed
    assert g.soak(None, None, NOW, "x landed").status is g.Status.skipped


def test_approval_gate() -> None:
    assert g.approval(True, None, False).status is g.Status.failed
    assert g.approval(True, "Ann <a@x>", True).evidence == "approved by Ann <a@x>"
    assert g.approval(True, None, True).status is g.Status.failed
    assert g.approval(False, None, False).status is g.Status.skipped


def test_health_evidence_file(tmp_path: Path) -> None:
    src = EvidenceFile(tmp_path / "health.json", "health.json")
    missing = src.check("web", "v2", ["a"])
    assert not missing.ok and missing.missing and "does not exist" in missing.evidence
    (tmp_path / "health.json").write_text(
        json.dumps(
            {
                "clusters": {
                    "a": {"web": {"version": "v2", "ready": True}},
                    "b": {"web": {"version": "v1", "ready": True}},
                }
            }
        )
    )
    assert src.check("web", "v2", ["a"]).ok
    res = src.check("web", "v2", ["a", "b", "c"])
    assert not res.ok and "b: reports 'v1'" in res.evidence and "c: no report" in res.evidence
    assert g.health(True, res).status is g.Status.failed
    assert g.health(False, None).status is g.Status.skipped


def test_force_turns_failures_into_forced() -> None:
    results = [g.GateResult("a", g.Status.failed, "x"), g.GateResult("b", g.Status.passed, "y")]
    forced = g.apply_force(results, "because")
    assert [r.status for r in forced] == [g.Status.forced, g.Status.passed]
    assert "because" in forced[0].evidence
    assert g.apply_force(results, None) == results


STAGING_GATES = {
    "approval": "      promotion:\n        approval: true\n",
    "freeze": "      promotion:\n        freezes:\n          - start: '2000-01-01T00:00:00Z'\n"
    "            end: '2999-01-01T00:00:00Z'\n            reason: migration\n",
    "window": "      promotion:\n        windows:\n          - days: [mon]\n            start: '00:00'\n"
    "            end: '00:01'\n            timezone: Pacific/Kiritimati\n",
    "health": "      promotion:\n        health: true\n",
}


@pytest.mark.parametrize("gate", sorted(STAGING_GATES))
def test_gate_refuses_then_passes_or_is_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, gate: str
) -> None:
    # A Wednesday: never inside the window (Mondays 00:00-00:01), whenever the suite runs.
    monkeypatch.setenv("FLUXFLEET_NOW", "2026-03-04T12:00:00Z")
    repo = make_repo(tmp_path / "r", staging=STAGING_GATES[gate])
    before = head(repo)
    assert ff(repo, "promote", "web", "--to", "staging") == 3
    assert f"{gate}:" in capsys.readouterr().err
    assert head(repo) == before and status(repo) == ""
    if gate == "approval":
        assert ff(repo, "promote", "web", "--to", "staging", "--approve", "--approver", "Ann <ann@x>") == 0
        assert trailers(repo)["Fluxfleet-Approver"] == "Ann <ann@x>"
        return
    if gate == "health":
        evidence = tmp_path / "h.json"
        clusters = {"dev-a": {"web": {"version": "v2", "ready": True}}}
        evidence.write_text(json.dumps({"clusters": clusters}))
        assert ff(repo, "promote", "web", "--to", "staging", "--health-evidence", str(evidence)) == 0
        assert "health=pass" in trailers(repo)["Fluxfleet-Gates"]
        return
    assert ff(repo, "promote", "web", "--to", "staging", "--force", "emergency fix") == 0
    t = trailers(repo)
    assert t["Fluxfleet-Forced"] == gate and t["Fluxfleet-Forced-Reason"] == "emergency fix"


def test_window_opens_at_the_clock_the_cli_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "r", staging=STAGING_GATES["window"])
    # Monday 00:00:30 in Kiritimati (UTC+14) is Sunday 10:00:30 UTC.
    assert ff(repo, "promote", "web", "--to", "staging", "--dry-run", "--now", "2026-03-01T10:00:30Z") == 0
    monkeypatch.setenv("FLUXFLEET_NOW", "2026-03-01T10:02:00+00:00")
    assert ff(repo, "promote", "web", "--to", "staging", "--dry-run") == 3
    assert ff(repo, "promote", "web", "--to", "staging", "--dry-run", "--now", "yesterday") == 2


def test_freeze_lets_rollbacks_through(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    assert ff(repo, "promote", "web", "--to", "staging") == 0
    text = (
        (repo / "fleet.yaml")
        .read_text()
        .replace("    - name: staging\n", "    - name: staging\n" + STAGING_GATES["freeze"])
    )
    (repo / "fleet.yaml").write_text(text)
    from promote_helpers import git

    git(repo, "commit", "-qam", "freeze")
    assert ff(repo, "promote", "api", "--to", "staging") == 3
    assert ff(repo, "rollback", "web", "--env", "staging") == 0
    assert "freeze=pass" in trailers(repo)["Fluxfleet-Gates"]


def test_refusal_is_reported_in_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo(tmp_path / "r", staging=STAGING_GATES["approval"])
    assert ff(repo, "promote", "web", "--to", "staging", "--dry-run", "-o", "json") == 3
    data = json.loads(capsys.readouterr().out)
    assert [r["gate"] for r in data["refused"]] == ["approval"]
    assert {r["gate"]: r["status"] for r in data["gates"]}["source"] == "pass"


def test_fleet_wide_freeze_holds_every_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from promote_helpers import git

    repo = make_repo(tmp_path / "r")
    fleet = repo / "fleet.yaml"
    fleet.write_text(
        fleet.read_text().replace(
            "  clusters:\n",
            "  freezes:\n    - start: '2000-01-01T00:00:00Z'\n      end: '2999-01-01T00:00:00Z'\n"
            "      reason: company-wide change freeze\n      allowRollback: false\n  clusters:\n",
            1,
        )
    )
    git(repo, "commit", "-qam", "freeze everything")
    for env in ("dev", "staging"):
        args = ["promote", "web", "--to", env] + (["--version", "v3"] if env == "dev" else [])
        assert ff(repo, *args) == 3
        assert "company-wide change freeze" in capsys.readouterr().err
