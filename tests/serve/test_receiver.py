"""The generic-hmac receiver: signed Flux events are stored once; everything else is refused."""

from __future__ import annotations

import json
from datetime import timedelta

from serve_helpers import BOTH_STORES, KEYS, T0, Harness, flux_event, sign

pytestmark = BOTH_STORES


def test_signed_event_is_stored_and_shows_in_status(harness: Harness) -> None:
    res = harness.post_event("prod-eu", flux_event(cluster="prod-eu"))
    assert res.status_code == 202, res.text
    assert res.json() == {"stored": 1}
    status = harness.get("/api/status").json()
    assert next(c for c in status["clusters"] if c["name"] == "prod-eu")["state"] == "ready"
    prod_eu = harness.get("/api/status", cluster="prod-eu").json()
    assert prod_eu["state"] == "ready"
    [obj] = prod_eu["objects"]
    assert (obj["kind"], obj["name"], obj["ready"]) == ("Kustomization", "app-web", True)
    assert obj["revision"] == "main@sha1:" + "1" * 40
    [stored] = harness.get("/api/events", cluster="prod-eu").json()["events"]
    assert stored["reason"] == "ReconciliationSucceeded"
    assert stored["metadata"]["cluster"] == "prod-eu"


def test_retried_event_is_stored_once(harness: Harness) -> None:
    event = flux_event()
    assert harness.post_event("prod-us", event).json() == {"stored": 1}
    assert harness.post_event("prod-us", event).json() == {"stored": 0}
    assert harness.service.store.event_count() == 1


def test_prefixed_revision_key_of_older_controllers(harness: Harness) -> None:
    rev = "main@sha1:" + "2" * 40
    assert harness.post_event("prod-us", flux_event(revision=rev, prefixed=True)).status_code == 202
    [obj] = harness.get("/api/status", cluster="prod-us").json()["objects"]
    assert obj["revision"] == rev


def test_bad_or_missing_signature_is_refused(harness: Harness) -> None:
    body = json.dumps(flux_event()).encode()
    wrong = harness.client.post(
        "/hook/prod-us", content=body, headers={"X-Signature": sign(KEYS["prod-eu"], body)}
    )
    missing = harness.client.post("/hook/prod-us", content=body)
    sha1 = harness.client.post("/hook/prod-us", content=body, headers={"X-Signature": "sha1=00"})
    assert (wrong.status_code, missing.status_code, sha1.status_code) == (401, 401, 401)
    # the key is used byte for byte: without its trailing newline the signature is wrong
    trimmed = harness.client.post(
        "/hook/prod-eu", content=body, headers={"X-Signature": sign(KEYS["prod-eu"].rstrip(), body)}
    )
    assert trimmed.status_code == 401
    assert harness.service.store.event_count() == 0


def test_unknown_cluster_is_refused(harness: Harness) -> None:
    res = harness.post_event("prod-eu", flux_event(), key=KEYS["prod-eu"])
    assert res.status_code == 202
    other = harness.client.post("/hook/evil", content=b"{}", headers={"X-Signature": sign(b"x", b"{}")})
    assert other.status_code == 404
    assert "unknown cluster" in other.json()["error"]


def test_event_claiming_another_cluster_is_refused(harness: Harness) -> None:
    res = harness.post_event("prod-us", flux_event(cluster="prod-eu"))
    assert res.status_code == 400
    assert res.json()["field"] == "metadata.cluster"


def test_oversized_body_is_refused(harness: Harness) -> None:
    event = flux_event(message="x" * (harness.service.max_body + 10))
    assert harness.post_event("prod-us", event).status_code == 413
    assert harness.service.store.event_count() == 0


def test_replay_outside_the_window_is_refused(harness: Harness) -> None:
    event = flux_event(at=T0)
    harness.clock.advance(minutes=16)
    res = harness.post_event("prod-us", event)
    assert res.status_code == 400
    assert "replay window" in res.json()["error"]
    harness.clock.now = T0 + timedelta(minutes=14)
    assert harness.post_event("prod-us", event).status_code == 202


def test_malformed_events_name_the_field(harness: Harness) -> None:
    bad = flux_event()
    bad["severity"] = "panic"
    res = harness.post_event("prod-us", bad)
    assert res.status_code == 400 and res.json()["field"] == "severity"
    body = b"{not json"
    res = harness.client.post(
        "/hook/prod-us", content=body, headers={"X-Signature": sign(KEYS["prod-us"], body)}
    )
    assert res.status_code == 400
    no_obj = flux_event()
    del no_obj["involvedObject"]["name"]
    res = harness.post_event("prod-us", no_obj)
    assert res.status_code == 400 and res.json()["field"] == "involvedObject.name"


def test_concurrent_events_are_committed_together_and_each_answered(harness: Harness) -> None:
    import asyncio

    import httpx

    from fluxfleet.serve.app import build_app

    events = [flux_event(at=T0 + timedelta(seconds=i), message=f"run {i}") for i in range(30)]
    bodies = [json.dumps(e).encode() for e in events]
    bodies += bodies[:5]  # retries of five of them, in the same burst

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=build_app(harness.service))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(
                *(
                    client.post("/hook/prod-us", content=b, headers={"X-Signature": sign(KEYS["prod-us"], b)})
                    for b in bodies
                )
            )

    answers = asyncio.run(burst())
    assert [r.status_code for r in answers] == [202] * 35
    assert sum(r.json()["stored"] for r in answers) == 30
    assert harness.service.store.event_count() == 30
    [obj] = harness.get("/api/status", cluster="prod-us").json()["objects"]
    assert obj["lastEventAt"].startswith("2026-06-01T12:00:29")
