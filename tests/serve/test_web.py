"""The dashboard over real HTTP: OIDC sign-in with PKCE against the test IdP, roles from groups,
CSRF on forms, no session fixation, token sign-in (local-user mode), cookie flags, the event stream."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlparse

import httpx
from serve_helpers import KEYS, Dash, flux_event

from fluxfleet.fleet.load import load_fleet
from fluxfleet.serve.app import Service, build_app
from fluxfleet.serve.keys import HmacKeys
from fluxfleet.serve.session import COOKIE, Signer
from fluxfleet.serve.web import WebConfig
from fluxfleet.store.db import Store
from fluxfleet.store.events import parse_event


def sso_login(client: httpx.Client, dash: Dash, user: str) -> httpx.Response:
    start = client.get(f"{dash.url}/login/sso")
    assert start.status_code == 303
    auth = start.headers["location"]
    assert auth.startswith(f"{dash.idp.issuer}/authorize")
    params = dict(parse_qsl(urlparse(auth).query))
    assert params["code_challenge_method"] == "S256" and params["code_challenge"] and params["nonce"]
    form = client.post(f"{dash.idp.issuer}/authorize", data={**params, "username": user})
    assert form.status_code == 303
    return client.get(form.headers["location"])


def csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m
    return m.group(1)


def test_sso_sign_in_shows_the_fleet(dash: Dash) -> None:
    with httpx.Client() as client:
        assert client.get(f"{dash.url}/").status_code == 303  # not signed in: to /login
        done = sso_login(client, dash, "dev@example.com")
        assert done.status_code == 303 and done.headers["location"] == "/"
        cookie = done.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        page = client.get(f"{dash.url}/")
        assert page.status_code == 200
        assert (
            'id="matrix"' in page.text and "prod-eu" in page.text and "dev@example.com (viewer)" in page.text
        )
    entries = list(dash.svc.store.audit_entries())
    assert [(e.action, e.actor) for e in entries] == [("login", "dev@example.com")]


def test_groups_without_a_role_are_refused(dash: Dash) -> None:
    with httpx.Client() as client:
        assert sso_login(client, dash, "nobody@example.com").status_code == 403
        assert client.get(f"{dash.url}/").status_code == 303


def test_callback_without_the_login_cookie_or_with_a_wrong_state_is_refused(dash: Dash) -> None:
    with httpx.Client() as client:
        start = client.get(f"{dash.url}/login/sso")
        params = dict(parse_qsl(urlparse(start.headers["location"]).query))
        form = client.post(f"{dash.idp.issuer}/authorize", data={**params, "username": "ada@example.com"})
        callback = form.headers["location"]
    with httpx.Client() as other:  # an attacker's browser, without the login cookie
        assert other.get(callback).status_code == 400
    with httpx.Client() as client:
        client.get(f"{dash.url}/login/sso")
        forged = re.sub(r"state=[^&]+", "state=forged", callback)
        assert client.get(forged).status_code == 400


def test_viewer_cannot_approve_and_approver_can_with_csrf(dash: Dash) -> None:
    with httpx.Client() as viewer:
        sso_login(viewer, dash, "dev@example.com")
        page = viewer.get(f"{dash.url}/apps/web")
        assert "your role cannot approve" in page.text
        res = viewer.post(
            f"{dash.url}/apps/web/approve", data={"csrf": csrf(page.text), "env": "prod", "version": "v2.0.0"}
        )
        assert res.status_code == 403
    with httpx.Client() as approver:
        sso_login(approver, dash, "paula@example.com")
        page = approver.get(f"{dash.url}/apps/web")
        assert "Approve v2.0.0 for prod" in page.text and "(0 of 2)" in page.text
        no_csrf = approver.post(f"{dash.url}/apps/web/approve", data={"env": "prod", "version": "v2.0.0"})
        assert no_csrf.status_code == 403
        wrong = approver.post(
            f"{dash.url}/apps/web/approve", data={"csrf": "x" * 43, "env": "prod", "version": "v2.0.0"}
        )
        assert wrong.status_code == 403
        assert dash.svc.store.approvals() == []
        ok = approver.post(
            f"{dash.url}/apps/web/approve", data={"csrf": csrf(page.text), "env": "prod", "version": "v2.0.0"}
        )
        assert ok.status_code == 303
        after = approver.get(f"{dash.url}{ok.headers['location']}")
        assert "paula@example.com (1 of 2)" in after.text and "approval #1" in after.text
    [approval] = dash.svc.store.approvals()
    assert approval.approver == "paula@example.com"


def test_no_session_fixation(dash: Dash) -> None:
    signer = dash.svc.web.signer  # type: ignore[union-attr]
    planted = signer.new_session("mallory@example.com", frozenset({"viewer"}))
    with httpx.Client() as client:
        client.cookies.set(COOKIE, planted, domain="127.0.0.1")
        done = sso_login(client, dash, "ada@example.com")
        issued = re.search(rf"{COOKIE}=([^;]+)", done.headers["set-cookie"])
        assert issued and issued.group(1) != planted
        session = signer.session(issued.group(1))
        assert session and session.subject == "ada@example.com"
        assert session.sid != signer.session(planted).sid  # type: ignore[union-attr]
    with httpx.Client() as client:  # a cookie not signed by the service is no session
        client.cookies.set(COOKIE, planted[:-4] + "AAAA", domain="127.0.0.1")
        assert client.get(f"{dash.url}/").status_code == 303


def test_token_sign_in_for_a_single_person_setup(dash: Dash) -> None:
    now = datetime.now(UTC)
    token = dash.svc.store.create_token("me", "me@example.com", ["admin"], now + timedelta(hours=1), now)
    with httpx.Client() as client:
        bad = client.post(f"{dash.url}/login/token", data={"token": "ff_0000000000000000_x"})
        assert bad.status_code == 303 and "invalid" in bad.headers["location"]
        assert client.post(f"{dash.url}/login/token", data={"token": token}).status_code == 303
        page = client.get(f"{dash.url}/apps/web")
        assert "Approve v2.0.0 for prod" in page.text  # admin approves everywhere
        out = client.post(f"{dash.url}/logout", data={"csrf": csrf(page.text)})
        assert out.status_code == 303
        client.cookies.clear()
        assert client.get(f"{dash.url}/apps/web").status_code == 303


def test_cookies_are_secure_over_https(repo: Path, tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    store = Store.open(str(tmp_path / "fleet.db"))
    web = WebConfig(Signer(secrets.token_bytes(32)), None, secure_cookies=True)
    svc = Service(store, HmacKeys(dict(KEYS)), load_fleet(repo), lambda: datetime.now(UTC), web=web)
    now = datetime.now(UTC)
    token = store.create_token("me", "me@example.com", ["viewer"], now + timedelta(hours=1), now)
    with TestClient(build_app(svc), base_url="https://fleet.example.com") as client:
        res = client.post("/login/token", data={"token": token}, follow_redirects=False)
    cookie = res.headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    store.close()


def test_event_stream_sends_new_events(dash: Dash) -> None:
    with httpx.Client() as client:
        assert client.get(f"{dash.url}/events/stream").status_code == 401
        sso_login(client, dash, "dev@example.com")
        with client.stream("GET", f"{dash.url}/events/stream?after=0", timeout=10) as stream:
            event = flux_event(
                at=datetime.now(UTC).replace(microsecond=0), cluster="prod-eu", message="live one"
            )
            dash.svc.store.record([parse_event("prod-eu", event)], datetime.now(UTC))
            seen = ""
            for line in stream.iter_lines():
                seen += line + "\n"
                if "live one" in line:
                    break
        assert "event: flux" in seen and '"cluster": "prod-eu"' in seen
