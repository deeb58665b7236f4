"""Fleet status on Flux's facts: failures supersede readiness, silence is not recovery, drift after
3× the interval, and the version matrix read from the repository at each reported revision."""

from __future__ import annotations

from pathlib import Path

from serve_helpers import T0, Harness, flux_event, git


def _cluster(harness: Harness, name: str) -> dict[str, object]:
    """One cluster with its objects; the fleet overview (aggregated in SQL) must agree on its state."""
    detail: dict[str, object] = harness.get("/api/status", cluster=name).json()
    overview = harness.get("/api/status").json()
    assert next(c for c in overview["clusters"] if c["name"] == name)["state"] == detail["state"]
    return detail


def test_no_event_yet_is_silent_not_ready(harness: Harness) -> None:
    assert _cluster(harness, "prod-us")["state"] == "silent"


def test_failure_supersedes_readiness_and_recovery_needs_a_success(harness: Harness) -> None:
    harness.post_event("prod-us", flux_event(at=T0))
    harness.clock.advance(minutes=1)
    failed = flux_event(
        severity="error",
        reason="HealthCheckFailed",
        message="health check failed after 30s: timeout waiting for: [Deployment/web/web status: 'InProgress']",
        at=harness.clock.now,
    )
    harness.post_event("prod-us", failed)
    c = _cluster(harness, "prod-us")
    assert c["state"] == "failing"
    [obj] = c["objects"]  # type: ignore[misc]
    assert obj["ready"] is False and "timeout waiting" in obj["message"]
    # a progress event is no verdict
    harness.clock.advance(minutes=1)
    harness.post_event(
        "prod-us", flux_event(reason="Progressing", message="Health check passed in 2s", at=harness.clock.now)
    )
    assert _cluster(harness, "prod-us")["state"] == "failing"
    harness.clock.advance(minutes=1)
    harness.post_event("prod-us", flux_event(at=harness.clock.now))
    assert _cluster(harness, "prod-us")["state"] == "ready"


def test_late_older_event_does_not_override_a_newer_verdict(harness: Harness) -> None:
    harness.clock.advance(minutes=5)
    harness.post_event("prod-us", flux_event(severity="error", reason="BuildFailed", at=harness.clock.now))
    harness.post_event("prod-us", flux_event(at=T0))  # delivered late: emitted before the failure
    assert _cluster(harness, "prod-us")["state"] == "failing"


def test_cluster_goes_silent_after_the_configured_time(harness: Harness) -> None:
    harness.post_event("prod-us", flux_event(at=T0))
    harness.clock.advance(minutes=29)
    assert _cluster(harness, "prod-us")["state"] == "ready"
    harness.clock.advance(minutes=2)
    c = _cluster(harness, "prod-us")
    assert c["state"] == "silent" and c["silent"] is True


def test_drift_after_three_intervals_at_an_old_revision(harness: Harness, repo: Path) -> None:
    head_time = int(git(repo, "show", "-s", "--format=%ct", "HEAD").strip())
    from datetime import UTC, datetime, timedelta

    wanted_since = datetime.fromtimestamp(head_time, UTC)
    old = "main@sha1:" + "9" * 40
    harness.clock.now = wanted_since + timedelta(minutes=29)  # prod interval 10m: grace 30m
    harness.post_event("prod-us", flux_event(revision=old, at=harness.clock.now))
    assert _cluster(harness, "prod-us")["state"] == "ready"
    harness.clock.advance(minutes=2)
    harness.post_event("prod-us", flux_event(revision=old, at=harness.clock.now))
    c = _cluster(harness, "prod-us")
    assert c["state"] == "drift"
    head = git(repo, "rev-parse", "HEAD").strip()
    harness.post_event("prod-us", flux_event(revision=f"main@sha1:{head}", at=harness.clock.now))
    assert _cluster(harness, "prod-us")["state"] == "ready"


def test_version_matrix_from_the_reported_revision(harness: Harness, repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD").strip()
    overlay = repo / "apps/web/overlays/prod/kustomization.yaml"
    overlay.write_text(overlay.read_text().replace("v1.0.0", "v2.0.0"))
    git(repo, "commit", "-qam", "promote web v2.0.0 to prod")
    second = git(repo, "rev-parse", "HEAD").strip()
    harness.post_event("prod-eu", flux_event(revision=f"main@sha1:{first}"))
    harness.post_event("prod-us", flux_event(revision=f"main@sha1:{second}"))
    rows = {r["cluster"]: r for r in harness.get("/api/matrix").json()["matrix"]}
    assert rows["prod-eu"]["wanted"] == "v2.0.0" and rows["prod-eu"]["reported"] == "v1.0.0"
    assert rows["prod-eu"]["state"] == "behind"
    assert rows["prod-us"]["reported"] == "v2.0.0" and rows["prod-us"]["state"] == "current"
    assert rows["staging-eu"]["state"] == "unknown"
