"""The dashboard in a real browser: Debian's chromium driven by Playwright (never a downloaded
browser). Sign in through the test OIDC provider, see the matrix, approve a promotion, watch the
event stream update. Screenshots go to $FLUXFLEET_SCREENSHOTS (docs/ for the README) or a temp dir."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import Dash, flux_event, git

from fluxfleet.store.events import parse_event

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is installed by scripts/test-services.sh"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def _seed(dash: Dash, repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    now = datetime.now(UTC).replace(microsecond=0)
    good = [("staging-eu", "app-web"), ("prod-eu", "app-web"), ("prod-us", "app-web")]
    events = [
        parse_event(c, flux_event(n, revision=f"main@sha1:{head}", at=now - timedelta(minutes=2), cluster=c))
        for c, n in good
    ]
    failing = flux_event(
        "platform-ingress",
        severity="error",
        reason="HealthCheckFailed",
        at=now - timedelta(minutes=1),
        cluster="prod-us",
        message="health check failed after 5m0s: timeout waiting for: [Deployment/ingress/ingress-nginx status: 'InProgress']",
    )
    events.append(parse_event("prod-us", failing))
    dash.svc.store.record(events, datetime.now(UTC))


@pytest.mark.slow
def test_sign_in_see_matrix_approve_and_watch_events(
    dash: Dash, repo: Path, page: Any, tmp_path: Path
) -> None:
    shots = Path(os.environ.get("FLUXFLEET_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    _seed(dash, repo)
    page.goto(f"{dash.url}/")
    assert page.url.endswith("/login")
    page.click("#sso")
    page.fill("#username", "paula@example.com")
    page.click("#signin")
    page.wait_for_selector("#matrix")
    assert "paula@example.com" in page.inner_text("header")
    assert page.inner_text("#clusters").count("ready") >= 2 and "failing" in page.inner_text("#clusters")
    page.screenshot(path=str(shots / "dashboard-fleet.png"), full_page=True)

    page.click("text=prod-us")
    page.wait_for_selector("text=HealthCheckFailed")
    page.screenshot(path=str(shots / "dashboard-cluster.png"), full_page=True)

    page.goto(f"{dash.url}/apps/web")
    page.click("text=Approve v2.0.0 for prod")
    page.wait_for_selector("[role=status]")
    assert "approval #1" in page.inner_text("[role=status]")
    assert "paula@example.com (1 of 2)" in page.inner_text("#pending")
    page.screenshot(path=str(shots / "dashboard-app.png"), full_page=True)
    [approval] = dash.svc.store.approvals()
    assert (approval.approver, approval.env, approval.version) == ("paula@example.com", "prod", "v2.0.0")

    page.goto(f"{dash.url}/events")
    page.wait_for_selector("#event-rows")
    live = flux_event(
        at=datetime.now(UTC).replace(microsecond=0), cluster="prod-eu", message="arrived while watching"
    )
    dash.svc.store.record([parse_event("prod-eu", live)], datetime.now(UTC))
    page.wait_for_selector("#event-rows >> text=arrived while watching", timeout=10_000)
    page.screenshot(path=str(shots / "dashboard-events.png"), full_page=True)


@pytest.mark.slow
def test_pages_read_without_javascript(dash: Dash, repo: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    _seed(dash, repo)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(java_script_enabled=False)
        page = context.new_page()
        page.goto(f"{dash.url}/login")
        page.click("#sso")
        page.fill("#username", "dev@example.com")
        page.click("#signin")
        page.wait_for_selector("#matrix")
        page.goto(f"{dash.url}/events")
        assert "HealthCheckFailed" in page.inner_text("#event-rows")
        context.close()
        browser.close()
