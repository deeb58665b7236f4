"""`promote` asks the fleet service (running on loopback) for health, soak and approvals, and
overriding health or approval needs the admin role. Real git, real HTTP, real store."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from serve_helpers import FLEET_YAML, KEYS, flux_event, git

from fluxfleet.cli.main import main
from fluxfleet.fleet.load import load_fleet
from fluxfleet.generate.run import generate
from fluxfleet.serve.app import Service, build_app
from fluxfleet.serve.keys import HmacKeys
from fluxfleet.store.db import Store
from fluxfleet.store.events import parse_event

PROD = "    - name: prod\n      interval: 10m\n"
GATED = PROD + "      promotion:\n        soak: 1h\n        health: true\n        approval: true\n"


@dataclass
class Live:
    repo: Path
    url: str
    store: Store
    tokens: dict[str, str]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    import uvicorn

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "fleet.yaml").write_text(FLEET_YAML.replace(PROD, GATED))
    generate(repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "fleet")
    store = Store.open(str(tmp_path / "fleet.db"))
    svc = Service(store, HmacKeys(dict(KEYS)), load_fleet(repo), lambda: datetime.now(UTC))
    port = _port()
    server = uvicorn.Server(uvicorn.Config(build_app(svc), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    now = datetime.now(UTC)
    far = now + timedelta(days=1)
    tokens = {
        "viewer": store.create_token("ci", "ci@example.com", ["viewer"], far, now),
        "admin": store.create_token("ada", "ada@example.com", ["admin"], far, now),
        "paula": store.create_token("p", "paula@example.com", ["approver:prod"], far, now),
        "pedro": store.create_token("p", "pedro@example.com", ["approver:prod:team-a"], far, now),
        # the test's git identity: the author of the promotion
        "author": store.create_token("t", "Test <test@example.com>", ["approver:prod"], far, now),
    }
    try:
        yield Live(repo, url, store, tokens)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


def _report(
    live: Live, *, ago: timedelta, severity: str = "info", reason: str = "ReconciliationSucceeded"
) -> None:
    """staging-eu reports the web Kustomization at HEAD (where v2.0.0 landed in staging)."""
    head = git(live.repo, "rev-parse", "HEAD").strip()
    event = flux_event(
        revision=f"main@sha1:{head}",
        at=datetime.now(UTC) - ago,
        severity=severity,
        reason=reason,
        cluster="staging-eu",
    )
    live.store.record([parse_event("staging-eu", event)], datetime.now(UTC))


def _promote(
    live: Live, who: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, dict[str, str]]]:
    monkeypatch.setenv("FLUXFLEET_TOKEN", live.tokens[who])
    capsys.readouterr()
    code = main(
        [
            "promote",
            "web",
            "--to",
            "prod",
            "--service",
            live.url,
            "--skip-checks",
            "test",
            "-C",
            str(live.repo),
            "-o",
            "json",
            *extra,
        ]
    )
    out = capsys.readouterr().out
    data = json.loads(out[out.index("{") :]) if "{" in out else {}
    return code, {gate["gate"]: gate for gate in data.get("gates", data.get("refused", []))}


def _approve(live: Live, who: str) -> int:
    res = httpx.post(
        f"{live.url}/api/approvals",
        json={"app": "web", "env": "prod", "version": "v2.0.0"},
        headers={"Authorization": f"Bearer {live.tokens[who]}"},
    )
    assert res.status_code == 200, res.text
    return int(res.json()["id"])


def test_gates_trust_the_service(
    live: Live, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _report(live, ago=timedelta(hours=2))
    _report(live, ago=timedelta(minutes=1))  # the periodic success keeps coming
    code, gates = _promote(live, "viewer", monkeypatch, capsys, "--dry-run")
    assert code == 3
    assert gates["health"]["status"] == "pass" and "fleet service" in gates["health"]["evidence"]
    assert gates["soak"]["status"] == "pass"
    assert gates["approval"]["status"] == "fail" and "0 of 2" in gates["approval"]["evidence"]
    _approve(live, "author")  # the author's own approval does not count
    first = _approve(live, "paula")
    code, gates = _promote(live, "viewer", monkeypatch, capsys, "--dry-run")
    assert code == 3 and "1 of 2" in gates["approval"]["evidence"]
    assert "author's own approval" in gates["approval"]["evidence"]
    second = _approve(live, "pedro")
    code, gates = _promote(live, "viewer", monkeypatch, capsys)
    assert code == 0, gates
    trailer = git(live.repo, "log", "-1", "--format=%(trailers:key=Fluxfleet-Approver,valueonly)")
    assert f"paula@example.com (approval #{first})" in trailer and f"approval #{second}" in trailer


def test_soak_counts_from_readiness_not_commit_date(
    live: Live, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _approve(live, "paula")
    _approve(live, "pedro")
    _report(live, ago=timedelta(minutes=10))
    code, gates = _promote(live, "viewer", monkeypatch, capsys, "--dry-run")
    assert code == 3 and gates["soak"]["status"] == "fail" and "to go" in gates["soak"]["evidence"]
    # a named override forces only that gate; anyone may override soak
    code, gates = _promote(live, "viewer", monkeypatch, capsys, "--dry-run", "--force", "soak=hotfix INC-1")
    assert code == 0
    assert gates["soak"]["status"] == "forced" and gates["approval"]["status"] == "pass"
    assert [e.action for e in live.store.audit_entries()].count("override") == 0  # a dry run records nothing
    code, gates = _promote(live, "viewer", monkeypatch, capsys, "--force", "soak=hotfix INC-1")
    assert code == 0
    head = git(live.repo, "rev-parse", "HEAD").strip()
    [entry] = [e for e in live.store.audit_entries() if e.action == "override"]
    assert entry.actor == "ci@example.com" and entry.detail["commit"] == head
    assert entry.detail["gates"] == ["soak"] and "hotfix INC-1" in entry.detail["reason"]


def test_failure_since_readiness_fails_health_and_only_admin_overrides(
    live: Live, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _approve(live, "paula")
    _approve(live, "pedro")
    _report(live, ago=timedelta(hours=2))
    _report(live, ago=timedelta(minutes=3), severity="error", reason="HealthCheckFailed")
    code, gates = _promote(live, "viewer", monkeypatch, capsys, "--dry-run")
    assert code == 3 and gates["health"]["status"] == "fail" and "failing" in gates["health"]["evidence"]
    code, gates = _promote(live, "viewer", monkeypatch, capsys, "--dry-run", "--force", "health,soak=INC-2")
    assert code == 3 and "needs the admin role" in gates["health"]["evidence"]
    code, gates = _promote(live, "admin", monkeypatch, capsys, "--dry-run", "--force", "health,soak=INC-2")
    assert code == 0 and gates["health"]["status"] == "forced"


def test_without_a_service_the_gates_say_they_are_advisory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    text = FLEET_YAML.replace(PROD, PROD + "      promotion:\n        approval: true\n")
    start, end = text.index("  service:\n"), text.index("  environments:\n")
    (repo / "fleet.yaml").write_text(text[:start] + text[end:])
    generate(repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "fleet")
    code = main(
        [
            "promote",
            "web",
            "--to",
            "prod",
            "--approve",
            "--skip-checks",
            "t",
            "-C",
            str(repo),
            "-o",
            "json",
            "--dry-run",
        ]
    )
    out = capsys.readouterr().out
    gates = {gate["gate"]: gate for gate in json.loads(out[out.index("{") :])["gates"]}
    assert code == 0 and gates["approval"]["evidence"].endswith("(advisory: no fleet service)")


def test_unreachable_service_is_an_error_not_a_fallback(
    live: Live, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLUXFLEET_TOKEN", live.tokens["viewer"])
    code = main(
        [
            "promote",
            "web",
            "--to",
            "prod",
            "--service",
            f"http://127.0.0.1:{_port()}",
            "--skip-checks",
            "t",
            "-C",
            str(live.repo),
            "--dry-run",
        ]
    )
    assert code == 2 and "cannot reach the fleet service" in capsys.readouterr().err
    monkeypatch.delenv("FLUXFLEET_TOKEN")
    assert main(["promote", "web", "--to", "prod", "-C", str(live.repo), "--dry-run"]) == 2
    assert "FLUXFLEET_TOKEN" in capsys.readouterr().err


WAVES = "        waves:\n          - {name: eu, selector: {matchLabels: {region: eu}}, soak: 0s}\n          - {name: rest}\n"


def test_later_waves_need_the_earlier_waves_ready(
    live: Live, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = live.repo / "fleet.yaml"
    fleet.write_text(fleet.read_text().replace(GATED, GATED + WAVES))
    generate(live.repo)
    git(live.repo, "add", "-A")
    git(live.repo, "commit", "-q", "-m", "prod waves")
    _report(live, ago=timedelta(hours=2))
    _approve(live, "paula")
    _approve(live, "pedro")
    code, gates = _promote(live, "viewer", monkeypatch, capsys)
    assert code == 0, gates  # wave eu 1/2
    code, gates = _promote(live, "viewer", monkeypatch, capsys, "--dry-run")
    assert code == 3 and "prod-eu: no report" in gates["health"]["evidence"]
    head = git(live.repo, "rev-parse", "HEAD").strip()
    event = flux_event(revision=f"main@sha1:{head}", at=datetime.now(UTC), cluster="prod-eu")
    live.store.record([parse_event("prod-eu", event)], datetime.now(UTC))
    code, gates = _promote(live, "viewer", monkeypatch, capsys, "--dry-run")
    assert code == 0 and gates["health"]["status"] == "pass", gates
