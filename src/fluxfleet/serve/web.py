"""The dashboard: server-rendered pages (Jinja2, plain forms; readable without JavaScript), sign-in
through OIDC or an API token, and the live event stream (server-sent events).

Every page needs a signed-in session; every form carries the session's CSRF token; approving
needs the approver role for the environment (and the app's team) or admin.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from fluxfleet.errors import FleetError
from fluxfleet.serve.auth import Principal, scopes_from_groups
from fluxfleet.serve.oidc import Oidc
from fluxfleet.serve.session import COOKIE, LIFETIME, LOGIN_COOKIE, Session, Signer

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class WebConfig:
    signer: Signer
    oidc: Oidc | None = None
    secure_cookies: bool = True
    stream_poll: float = 1.0


def _templates() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]))


def web_routes(svc: Any, web: WebConfig) -> list[Route]:
    from fluxfleet.serve import app as api

    env = _templates()

    def session_of(request: Request) -> Session | None:
        return web.signer.session(request.cookies.get(COOKIE))

    def page(request: Request, name: str, session: Session, status: int = 200, **ctx: Any) -> HTMLResponse:
        html = env.get_template(name).render(
            user=session, csrf=web.signer.csrf(session), flash=request.query_params.get("flash"), **ctx
        )
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})

    def set_cookie(response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name, value, max_age=max_age, httponly=True, secure=web.secure_cookies, samesite="lax", path="/"
        )

    def signed_in(response: Response, subject: str, scopes: frozenset[str]) -> Response:
        # a fresh session id at every sign-in: a cookie planted before cannot be carried over
        set_cookie(response, COOKIE, web.signer.new_session(subject, scopes), LIFETIME)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        svc.store.audit(subject, "login", subject, {"scopes": sorted(scopes)}, svc.clock())
        return response

    def require(request: Request) -> Session | Response:
        session = session_of(request)
        if session is None:
            return RedirectResponse("/login", status_code=303)
        return session

    async def login(request: Request) -> Response:
        html = env.get_template("login.html").render(
            title="Sign in", user=None, sso=web.oidc is not None, flash=None
        )
        return HTMLResponse(html)

    async def login_sso(request: Request) -> Response:
        if web.oidc is None:
            return RedirectResponse("/login", status_code=303)
        start = await web.oidc.start()
        response = RedirectResponse(start.url, status_code=303)
        cookie = web.signer.dumps(
            {
                "state": start.state,
                "nonce": start.nonce,
                "verifier": start.verifier,
                "exp": int(svc.clock().timestamp()) + 600,
            }
        )
        set_cookie(response, LOGIN_COOKIE, cookie, 600)
        return response

    async def callback(request: Request) -> Response:
        pending = web.signer.loads(request.cookies.get(LOGIN_COOKIE))
        state = request.query_params.get("state")
        code = request.query_params.get("code")
        if web.oidc is None or pending is None or not state or not code:
            return HTMLResponse(
                "sign-in expired or was not started here; start again at /login", status_code=400
            )
        if not secrets.compare_digest(str(pending.get("state")), state):
            return HTMLResponse("sign-in state mismatch", status_code=400)
        try:
            identity = await web.oidc.finish(code, str(pending["verifier"]), str(pending["nonce"]))
        except FleetError as exc:
            return HTMLResponse(f"sign-in refused: {exc.message}", status_code=403)
        bindings = svc.fleet.service.roles if svc.fleet.service else ()
        scopes = scopes_from_groups(identity.groups, bindings)
        if not scopes:
            return HTMLResponse("your groups grant no role in this fleet", status_code=403)
        return await run_in_threadpool(
            signed_in, RedirectResponse("/", status_code=303), identity.subject, scopes
        )

    async def login_token(request: Request) -> Response:
        form = await request.form()
        token = str(form.get("token") or "")
        found = await run_in_threadpool(svc.store.check_token, token, svc.clock())
        if found is None:
            return RedirectResponse("/login?flash=invalid+or+expired+token", status_code=303)
        return await run_in_threadpool(
            signed_in, RedirectResponse("/", status_code=303), found.subject, frozenset(found.scopes)
        )

    async def logout(request: Request) -> Response:
        session = session_of(request)
        form = await request.form()
        if session is None or not web.signer.csrf_ok(session, str(form.get("csrf") or "")):
            return HTMLResponse("bad or missing CSRF token", status_code=403)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    async def fleet_page(request: Request) -> Response:
        session = require(request)
        if not isinstance(session, Session):
            return session
        status = await run_in_threadpool(api.status_data, svc)
        rows = await run_in_threadpool(api.matrix_data, svc)
        matrix: dict[str, dict[str, Any]] = {}
        for r in rows:
            matrix.setdefault(r["app"], {})[r["cluster"]] = r
        return page(
            request,
            "fleet.html",
            session,
            title="Fleet",
            fleet_name=svc.fleet.name,
            fleet_status=status,
            matrix=matrix,
            clusters=[c.name for c in svc.fleet.clusters],
        )

    async def cluster_page(request: Request) -> Response:
        session = require(request)
        if not isinstance(session, Session):
            return session
        name = request.path_params["name"]
        try:
            cluster = await run_in_threadpool(api.cluster_data, svc, name)
        except FleetError:
            return HTMLResponse("unknown cluster", status_code=404)
        events = await run_in_threadpool(lambda: svc.store.events(cluster=name, limit=50))
        return page(request, "cluster.html", session, title=name, cluster=cluster, events=events)

    async def app_page(request: Request) -> Response:
        session = require(request)
        if not isinstance(session, Session):
            return session
        try:
            app = svc.fleet.app(request.path_params["name"])
        except FleetError:
            return HTMLResponse("unknown app", status_code=404)
        principal = Principal(session.subject, session.scopes)
        data = await run_in_threadpool(app_data, svc, app.name, principal)
        return page(request, "app.html", session, title=app.name, app=app, **data)

    async def approve_form(request: Request) -> Response:
        session = require(request)
        if not isinstance(session, Session):
            return session
        form = await request.form()
        if not web.signer.csrf_ok(session, str(form.get("csrf") or "")):
            return HTMLResponse("bad or missing CSRF token", status_code=403)
        name = request.path_params["name"]
        principal = Principal(session.subject, session.scopes)
        body = {"app": name, "env": str(form.get("env") or ""), "version": str(form.get("version") or "")}
        try:
            approval = await run_in_threadpool(api.approve_data, svc, principal, body)
        except api.Forbidden as exc:
            return HTMLResponse(exc.message, status_code=403)
        except FleetError as exc:
            return HTMLResponse(exc.message, status_code=400)
        flash = f"approved {approval['version']} for {approval['env']} (approval #{approval['id']})"
        return RedirectResponse(
            f"/apps/{name}?flash={flash.replace(' ', '+').replace('#', '%23')}", status_code=303
        )

    async def events_page(request: Request) -> Response:
        session = require(request)
        if not isinstance(session, Session):
            return session
        events = await run_in_threadpool(lambda: svc.store.events(limit=100))
        last_id = events[0]["id"] if events else 0
        return page(request, "events.html", session, title="Events", events=events, last_id=last_id)

    async def stream(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return Response("sign in first", status_code=401)
        raw = request.query_params.get("after", "0")
        after = int(raw) if raw.isdigit() and len(raw) < 19 else 0

        async def feed() -> AsyncIterator[str]:
            last = after
            yield ": connected\n\n"
            while not await request.is_disconnected():
                try:
                    found = await run_in_threadpool(
                        functools.partial(svc.store.events, after=last, limit=200)
                    )
                except DBAPIError:  # a database outage pauses the stream; the browser keeps it open
                    found = []
                for e in found:
                    last = max(last, int(e["id"]))
                    yield f"id: {e['id']}\nevent: flux\ndata: {json.dumps(e)}\n\n"
                await asyncio.sleep(web.stream_poll)

        return StreamingResponse(
            feed(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    return [
        Route("/", fleet_page),
        Route("/login", login),
        Route("/login/sso", login_sso),
        Route("/login/callback", callback),
        Route("/login/token", login_token, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/clusters/{name}", cluster_page),
        Route("/apps/{name}", app_page),
        Route("/apps/{name}/approve", approve_form, methods=["POST"]),
        Route("/events", events_page),
        Route("/events/stream", stream),
    ]


def app_data(svc: Any, app: str, principal: Principal) -> dict[str, Any]:
    """Promotion history (git trailers) and the promotions waiting for approval, with who approved."""
    history: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    repo = svc.versions.repo if svc.versions else None
    if repo is None:
        return {"history": history, "pending": pending}
    from fluxfleet.fleet.placement import place
    from fluxfleet.gitrepo.git import Git
    from fluxfleet.promote import ledger
    from fluxfleet.promote.state import app_envs, env_state

    for r in ledger.load(Git(repo), app=app)[:50]:
        when = datetime.fromtimestamp(r.time, UTC).strftime("%Y-%m-%d %H:%M UTC")
        history.append(
            {
                "when": when,
                "action": r.action,
                "env": r.env,
                "version": r.version,
                "wave": r.wave,
                "approver": r.approver,
                "sha": r.sha,
            }
        )
    fleet = svc.fleet
    placement = place(fleet)
    envs = app_envs(fleet, placement, app)
    team = fleet.app(app).team
    for prev, env in itertools.pairwise(envs):
        needed = (fleet.service.approvals.get(env, 0) if fleet.service else 0) or (
            1 if fleet.env(env).promotion.approval else 0
        )
        candidate = env_state(repo, fleet, placement, app, prev).version
        current = env_state(repo, fleet, placement, app, env).version
        if not needed or candidate is None or candidate == current:
            continue
        approvers = [a.approver for a in svc.store.approvals(app, env, candidate)]
        pending.append(
            {
                "env": env,
                "version": candidate,
                "current": current,
                "needed": needed,
                "approvers": approvers,
                "can_approve": principal.can_approve(env, team),
            }
        )
    return {"history": history, "pending": pending}
