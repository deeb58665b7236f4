"""The HTTP application (Starlette): the Flux event receiver and the JSON API.

Routes:
- ``POST /hook/<cluster>``: notification-controller's ``generic-hmac`` Provider. The signature
  (``X-Signature: sha256=<hex>``) is checked in constant time over the raw body before it is parsed;
  the body is bounded; unknown clusters, bad signatures and events outside the replay window are
  refused with 4xx (Flux does not retry those); a database outage answers 503 so Flux retries.
- ``GET /api/status`` (every cluster; ``?cluster=NAME`` for one with its objects), ``/api/matrix``, ``/api/events``, ``/api/evidence``: readers (``viewer``).
- ``GET|POST /api/approvals``: approvals, made by ``approver`` of the environment (and team).
- ``POST /api/overrides``: ``promote --force`` records the gates it overrode;
- ``GET /api/audit``: the audit log (``admin``); ``GET /api/whoami``: the caller's scopes.
API calls carry ``Authorization: Bearer <token>`` (tokens from ``fluxfleet serve token``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fluxfleet.errors import FleetError
from fluxfleet.fleet.load import Fleet
from fluxfleet.generate.layout import FLUX_NAMESPACE, app_ks_name
from fluxfleet.serve.auth import Principal
from fluxfleet.serve.keys import HmacKeys
from fluxfleet.serve.status import (
    ClusterInfo,
    Wanted,
    commit_of,
    fleet_status,
    fleet_summary,
    version_matrix,
)
from fluxfleet.serve.versions import VersionIndex
from fluxfleet.serve.web import WebConfig
from fluxfleet.store.db import Store, StoreUnavailable, successes
from fluxfleet.store.events import FluxEvent, parse_event

MAX_BODY = 256 * 1024  # an Event message is at most 39,000 characters; metadata is small
REPLAY_WINDOW = timedelta(minutes=15)  # Flux's own retries end after the Provider timeout (15 s)


@dataclass
class Service:
    store: Store
    keys: HmacKeys
    fleet: Fleet
    clock: Callable[[], datetime]
    versions: VersionIndex | None = None
    web: WebConfig | None = None
    max_body: int = MAX_BODY
    replay_window: timedelta = REPLAY_WINDOW
    extra: dict[str, Any] = field(default_factory=dict)

    def cluster_infos(self) -> list[ClusterInfo]:
        return [
            ClusterInfo(c.name, c.environment, self.fleet.env(c.environment).interval)
            for c in self.fleet.clusters
        ]

    @property
    def silent_after(self) -> str:
        return self.fleet.service.silent_after if self.fleet.service else "30m"


def _error(status: int, message: str, *, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


async def _bounded_body(request: Request, limit: int) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def signature_ok(key: bytes, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len("sha256=") :].strip().lower())


def _principal(svc: Service, request: Request) -> Principal | None:
    principal = request.scope.get("fluxfleet.principal")
    if isinstance(principal, Principal):
        return principal
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        return None
    token = svc.store.check_token(auth[7:].strip(), svc.clock())
    return Principal(token.subject, frozenset(token.scopes)) if token else None


Handler = Callable[[Request], Awaitable[Response]]


class Batcher:
    """Group commit: events arriving together are stored in one transaction (a few milliseconds of
    waiting buys one commit for many events); each request still gets its own answer, and a failed
    transaction fails every request in it with 503, so Flux retries them all."""

    def __init__(self, svc: Service, window: float = 0.003, max_batch: int = 256) -> None:
        self.svc = svc
        self.window = window
        self.max_batch = max_batch
        self._pending: list[tuple[FluxEvent, asyncio.Future[int]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, event: FluxEvent) -> int:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((event, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        await asyncio.sleep(self.window)
        while self._pending:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            events = [e for e, _ in batch]
            try:
                results = await run_in_threadpool(self.svc.store.record_each, events, self.svc.clock())
            except Exception as exc:  # every waiting request must get an answer, never hang
                for _, future in batch:
                    if not future.done():
                        future.set_exception(
                            StoreUnavailable(str(exc)) if isinstance(exc, StoreUnavailable) else exc
                        )
                continue
            for (_, future), stored in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(stored)


def build_app(svc: Service) -> Starlette:
    batcher = Batcher(svc)

    async def hook(request: Request) -> Response:
        cluster = request.path_params["cluster"]
        key = svc.keys.get(cluster)
        if key is None:
            return _error(404, f"unknown cluster {cluster!r}")
        body = await _bounded_body(request, svc.max_body)
        if body is None:
            return _error(413, f"body larger than {svc.max_body} bytes")
        if not signature_ok(key, body, request.headers.get("x-signature")):
            return _error(401, "missing or bad X-Signature (generic-hmac, sha256)")
        try:
            data = json.loads(body)
            event = parse_event(cluster, data)
        except (ValueError, RecursionError):
            return _error(400, "the body is not JSON")
        except FleetError as exc:
            return _error(400, exc.message, field=exc.location.field)
        now = svc.clock()
        if abs(now - event.emitted_at) > svc.replay_window:
            return _error(400, "event timestamp outside the replay window", field="timestamp")
        try:
            stored = await batcher.submit(event)
        except StoreUnavailable:
            return _error(503, "store unavailable; retry", headers={"Retry-After": "5"})
        return JSONResponse({"stored": stored}, status_code=202)

    def guarded(check: Callable[[Principal], bool], fn: Callable[[Request, Principal], Any]) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                principal = await run_in_threadpool(_principal, svc, request)
            except StoreUnavailable:
                return _error(503, "store unavailable")
            if principal is None:
                return _error(401, "sign in or pass a bearer token")
            if not check(principal):
                return _error(403, "your role does not allow this")
            try:
                result = await fn(request, principal)
            except Forbidden as exc:
                return _error(403, exc.message)
            except FleetError as exc:
                return _error(400, exc.message, field=exc.location.field)
            except StoreUnavailable:
                return _error(503, "store unavailable")
            return result if isinstance(result, Response) else JSONResponse(result)

        return endpoint

    def reader(p: Principal) -> bool:
        return p.can_read()

    def admin(p: Principal) -> bool:
        return p.is_admin

    async def status(request: Request, _p: Principal) -> Any:
        cluster = request.query_params.get("cluster")
        if cluster:
            return await run_in_threadpool(cluster_data, svc, cluster)
        return await run_in_threadpool(status_data, svc)

    async def matrix(request: Request, _p: Principal) -> Any:
        return {"matrix": await run_in_threadpool(matrix_data, svc)}

    async def events(request: Request, _p: Principal) -> Any:
        after = _int(request.query_params.get("after"), "after")
        limit = min(_int(request.query_params.get("limit"), "limit") or 100, 1000)
        cluster = request.query_params.get("cluster")
        return {
            "events": await run_in_threadpool(
                lambda: svc.store.events(after=after, cluster=cluster, limit=limit)
            )
        }

    async def evidence(request: Request, _p: Principal) -> Any:
        app = request.query_params.get("app", "")
        clusters = [c for c in request.query_params.get("clusters", "").split(",") if c]
        if not app or not clusters:
            raise FleetError("pass app and clusters", field="app")
        return await run_in_threadpool(evidence_data, svc, app, clusters)

    async def list_approvals(request: Request, _p: Principal) -> Any:
        q = request.query_params
        found = await run_in_threadpool(
            lambda: svc.store.approvals(q.get("app"), q.get("env"), q.get("version"))
        )
        return {"approvals": [a.as_dict() for a in found]}

    async def approve(request: Request, p: Principal) -> Any:
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            raise FleetError("the body is not JSON") from None
        return await run_in_threadpool(approve_data, svc, p, data)

    async def audit(request: Request, _p: Principal) -> Any:
        return {
            "entries": [e.as_dict() for e in await run_in_threadpool(lambda: list(svc.store.audit_entries()))]
        }

    async def override(request: Request, p: Principal) -> Any:
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            raise FleetError("the body is not JSON") from None
        return await run_in_threadpool(override_data, svc, p, data)

    async def whoami(request: Request, p: Principal) -> Any:
        return {"subject": p.subject, "scopes": sorted(p.scopes)}

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    routes = [
        Route("/hook/{cluster}", hook, methods=["POST"]),
        Route("/healthz", healthz),
        Route("/api/whoami", guarded(reader, whoami)),
        Route("/api/status", guarded(reader, status)),
        Route("/api/matrix", guarded(reader, matrix)),
        Route("/api/events", guarded(reader, events)),
        Route("/api/evidence", guarded(reader, evidence)),
        Route("/api/approvals", guarded(reader, list_approvals), methods=["GET"]),
        Route("/api/approvals", guarded(reader, approve), methods=["POST"]),
        Route("/api/audit", guarded(admin, audit)),
        Route("/api/overrides", guarded(reader, override), methods=["POST"]),
    ]
    if svc.web is not None:
        from fluxfleet.serve.web import web_routes

        routes += web_routes(svc, svc.web)
    app = Starlette(routes=routes)
    app.state.service = svc
    return app


def _int(value: str | None, name: str) -> int:
    if value is None or value == "":
        return 0
    if not value.isdigit() or len(value) > 18:
        raise FleetError(f"`{name}` must be a whole number", field=name)
    return int(value)


def _wanted(svc: Service) -> Wanted | None:
    if svc.versions is None:
        return None
    sha, when = svc.versions.head()
    return Wanted(sha, datetime.fromtimestamp(when, UTC))


def status_data(svc: Service) -> dict[str, Any]:
    """Every cluster's state from aggregates; one cluster's objects come from :func:`cluster_data`."""
    wanted = _wanted(svc)
    summaries = svc.store.cluster_summaries(wanted.commit if wanted else None)
    return fleet_summary(
        svc.cluster_infos(), summaries, svc.clock(), silent_after=svc.silent_after, wanted=wanted
    )


def cluster_data(svc: Service, cluster: str) -> dict[str, Any]:
    info = [c for c in svc.cluster_infos() if c.name == cluster]
    if not info:
        raise FleetError(f"unknown cluster {cluster!r}", field="cluster")
    objects = svc.store.objects(cluster)
    data = fleet_status(info, objects, svc.clock(), silent_after=svc.silent_after, wanted=_wanted(svc))
    return dict(data["clusters"][0])


def matrix_data(svc: Service) -> list[dict[str, Any]]:
    """Per app and cluster: the version git wants at HEAD vs the one in the revision the cluster's
    Kustomization for the app last applied."""
    if svc.versions is None:
        return []
    head, _ = svc.versions.head()
    wanted = svc.versions.at(head) or {}
    states = {(o.cluster, o.name): o for o in svc.store.objects() if o.kind == "Kustomization"}
    reported: dict[tuple[str, str], str | None] = {}
    for app, cluster in wanted:
        state = states.get((cluster, app_ks_name(app)))
        commit = commit_of(state.revision if state else None)
        if commit is None:
            continue
        at = svc.versions.at(commit)
        if at is not None:
            reported[(app, cluster)] = at.get((app, cluster))
    envs = {c.name: c.environment for c in svc.fleet.clusters}
    return version_matrix(wanted, reported, envs)


def evidence_data(svc: Service, app: str, clusters: list[str]) -> dict[str, Any]:
    """What the promote gates need about ``app`` on each cluster: its Kustomization's verdict and,
    since its last failure, the first time it reported Ready at each revision."""
    name = app_ks_name(app)
    states = {
        o.cluster: o
        for o in svc.store.objects()
        if o.kind == "Kustomization" and o.namespace == FLUX_NAMESPACE and o.name == name
    }
    out: dict[str, Any] = {}
    for cluster in clusters:
        state = states.get(cluster)
        if state is None:
            out[cluster] = {"reported": False}
            continue
        ready_at = successes(svc.store, cluster, "Kustomization", FLUX_NAMESPACE, name, state.failed_at)
        out[cluster] = {
            "reported": True,
            "ready": state.ready,
            "revision": state.revision,
            "reason": state.reason,
            "message": state.message,
            "lastEventAt": state.last_event_at.isoformat() if state.last_event_at else None,
            "failedAt": state.failed_at.isoformat() if state.failed_at else None,
            "readyRevisions": [{"revision": r, "since": t.isoformat()} for r, t in ready_at],
        }
    return {
        "app": app,
        "kustomization": f"{FLUX_NAMESPACE}/{name}",
        "clusters": out,
        "now": svc.clock().isoformat(),
    }


def approve_data(svc: Service, p: Principal, data: object) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise FleetError("the body must be a JSON object with app, env and version")
    app, env, version = (data.get(k) for k in ("app", "env", "version"))
    if not all(isinstance(v, str) and 0 < len(v) <= 128 for v in (app, env, version)):
        raise FleetError("app, env and version are required strings", field="app")
    assert isinstance(app, str) and isinstance(env, str) and isinstance(version, str)
    team = svc.fleet.app(app).team
    svc.fleet.env(env)
    if not p.can_approve(env, team):
        raise Forbidden(f"{p.subject} may not approve promotions into {env}")
    approval = svc.store.approve(app, env, version, p.subject, svc.clock())
    svc.store.audit(p.subject, "approve", f"{app}@{version}->{env}", {"approval": approval.id}, svc.clock())
    return approval.as_dict()


def override_data(svc: Service, p: Principal, data: object) -> dict[str, Any]:
    """Record a promotion that overrode gates (sent by ``promote --force`` after its commit)."""
    if not isinstance(data, dict):
        raise FleetError("the body must be a JSON object")
    fields = {k: data.get(k) for k in ("app", "env", "version", "commit", "reason")}
    gates = data.get("gates")
    if not all(isinstance(v, str) and 0 < len(v) <= 1024 for v in fields.values()) or not (
        isinstance(gates, list) and gates and all(isinstance(x, str) and len(x) <= 64 for x in gates)
    ):
        raise FleetError("app, env, version, commit, reason and gates are required", field="gates")
    if {"health", "approval"} & set(gates) and not p.is_admin:
        raise Forbidden("overriding health or approval needs the admin role")
    subject = f"{fields['app']}@{fields['version']}->{fields['env']}"
    entry = svc.store.audit(p.subject, "override", subject, {**fields, "gates": sorted(gates)}, svc.clock())
    return {"audit": entry.seq}


class Forbidden(FleetError):
    """The caller is signed in but their role does not allow the action (HTTP 403)."""
