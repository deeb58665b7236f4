"""Role checks on every API endpoint, approvals, API token scope and expiry, and the audit chain."""

from __future__ import annotations

from datetime import timedelta

import pytest
from serve_helpers import BOTH_STORES, T0, Harness

from fluxfleet.store.audit import verify_chain

READERS = ["/api/status", "/api/matrix", "/api/events", "/api/approvals"]


@pytest.mark.parametrize("path", [*READERS, "/api/audit", "/api/evidence"])
def test_every_api_endpoint_needs_a_token(harness: Harness, path: str) -> None:
    assert harness.client.get(path).status_code == 401
    assert (
        harness.client.get(path, headers={"Authorization": "Bearer ff_0000000000000000_nope"}).status_code
        == 401
    )


@pytest.mark.parametrize("path", READERS)
def test_viewer_reads(harness: Harness, path: str) -> None:
    assert harness.get(path).status_code == 200


def test_audit_log_is_admin_only(harness: Harness) -> None:
    assert harness.get("/api/audit", who="viewer").status_code == 403
    assert harness.get("/api/audit", who="prod1").status_code == 403
    assert harness.get("/api/audit", who="admin").status_code == 200


def test_viewer_cannot_approve(harness: Harness) -> None:
    res = harness.approve("viewer", "web", "prod", "v2.0.0")
    assert res.status_code == 403
    assert harness.service.store.approvals() == []


def test_staging_approver_cannot_approve_prod(harness: Harness) -> None:
    assert harness.approve("staging", "web", "prod", "v2.0.0").status_code == 403
    assert harness.approve("staging", "web", "staging", "v2.0.0").status_code == 200


@BOTH_STORES
def test_env_and_team_approvers_approve_and_are_audited(harness: Harness) -> None:
    first = harness.approve("prod1", "web", "prod", "v2.0.0")
    second = harness.approve("prod2", "web", "prod", "v2.0.0")  # approver:prod:team-a, web is team-a's
    again = harness.approve("prod1", "web", "prod", "v2.0.0")
    assert (first.status_code, second.status_code) == (200, 200)
    assert again.json()["id"] == first.json()["id"]  # approving twice is one approval
    listed = harness.get("/api/approvals", app="web", env="prod", version="v2.0.0").json()["approvals"]
    assert sorted(a["approver"] for a in listed) == ["paula@example.com", "pedro@example.com"]
    entries = harness.get("/api/audit", who="admin").json()["entries"]
    approvals = [e for e in entries if e["action"] == "approve"]
    assert [e["actor"] for e in approvals] == ["paula@example.com", "pedro@example.com", "paula@example.com"]
    assert approvals[0]["detail"] == {"approval": first.json()["id"]}


def test_unknown_app_or_env_is_a_clear_400(harness: Harness) -> None:
    res = harness.approve("admin", "nope", "prod", "v1")
    assert res.status_code == 400 and "nope" in res.json()["error"]
    assert harness.approve("admin", "web", "qa", "v1").status_code == 400


def test_expired_and_revoked_scope_tokens(harness: Harness) -> None:
    store = harness.service.store
    short = store.create_token("ci", "ci@example.com", ["viewer"], T0 + timedelta(hours=1), T0)
    headers = {"Authorization": f"Bearer {short}"}
    assert harness.client.get("/api/status", headers=headers).status_code == 200
    harness.clock.advance(hours=2)
    assert harness.client.get("/api/status", headers=headers).status_code == 401
    # a token's secret part is checked, not just its id
    forged = short.rsplit("_", 1)[0] + "_" + "A" * 43
    harness.clock.now = T0
    assert harness.client.get("/api/status", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_tokens_are_hashed_at_rest(harness: Harness) -> None:
    from sqlalchemy import select

    from fluxfleet.store.schema import api_tokens

    token = harness.tokens["admin"]
    with harness.service.store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(api_tokens)).mappings()]
    assert all(token.split("_", 2)[2] not in str(r) for r in rows)


@BOTH_STORES
def test_audit_chain_detects_tampering(harness: Harness) -> None:
    from sqlalchemy import update

    from fluxfleet.store.schema import audit

    harness.approve("prod1", "web", "prod", "v2.0.0")
    harness.approve("prod2", "web", "prod", "v2.0.0")
    store = harness.service.store
    assert verify_chain(store.audit_entries()) == (2, None)
    with store.engine.begin() as conn:
        conn.execute(update(audit).where(audit.c.seq == 1).values(actor="mallory@example.com"))
    count, problem = verify_chain(store.audit_entries())
    assert count == 1
    assert problem is not None and "entry 1" in problem


def test_recording_a_health_override_needs_admin(harness: Harness) -> None:
    body = {
        "app": "web",
        "env": "prod",
        "version": "v2",
        "commit": "a" * 40,
        "gates": ["health"],
        "reason": "x",
    }
    auth = {"Authorization": f"Bearer {harness.tokens['viewer']}"}
    assert harness.client.post("/api/overrides", json=body, headers=auth).status_code == 403
    admin = {"Authorization": f"Bearer {harness.tokens['admin']}"}
    assert harness.client.post("/api/overrides", json=body, headers=admin).status_code == 200
    assert harness.client.post("/api/overrides", json={**body, "gates": []}, headers=admin).status_code == 400
    assert [e.action for e in harness.service.store.audit_entries()] == ["override"]
