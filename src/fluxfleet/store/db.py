"""The store: one object per process over a SQLAlchemy engine (SQLite file or PostgreSQL URL).

Every write is one transaction. Opening a store runs the shipped Alembic migrations to head (under
an advisory lock on PostgreSQL, so replicas starting together migrate once). A database that is
down surfaces as :class:`StoreUnavailable`, which the receiver answers with 503 so Flux retries.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, case, create_engine, event, func, literal, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from fluxfleet.errors import FleetError
from fluxfleet.store import schema as t
from fluxfleet.store.audit import GENESIS, AuditEntry, entry_hash
from fluxfleet.store.events import FluxEvent
from fluxfleet.store.state import ObjectState, fold

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATE_LOCK = 0x66_6C_75_78  # an arbitrary constant naming fluxfleet's migration lock


class StoreUnavailable(Exception):
    """The database cannot be reached or refused the write; nothing was recorded."""


@dataclass(frozen=True)
class Approval:
    id: int
    app: str
    env: str
    version: str
    approver: str
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "app": self.app,
            "env": self.env,
            "version": self.version,
            "approver": self.approver,
            "createdAt": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class ClusterSummary:
    last_event_at: datetime | None
    failing: int
    off_wanted: int  # Kustomizations at another revision than the wanted one
    objects: int


@dataclass(frozen=True)
class ApiToken:
    id: str
    name: str
    subject: str
    scopes: tuple[str, ...]
    expires_at: datetime
    revoked: bool


def utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes even for timezone-aware columns; every value stored is UTC.
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _must(value: datetime | None) -> datetime:
    out = utc(value)
    assert out is not None
    return out


def database_url(value: str) -> str:
    """A SQLAlchemy URL from ``sqlite:///…``, ``postgresql://…`` or a plain file path."""
    if value.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    if value.startswith(("postgresql+psycopg://", "sqlite://")):
        return value
    if "://" in value:
        raise FleetError(
            f"unsupported database URL scheme in {value.split('://', 1)[0]!r}",
            field="--db",
            hint="use a file path (SQLite) or postgresql://user@host/dbname",
        )
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def migrate(conn: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_postgres = engine.dialect.name == "postgresql"
        # SQLite has one writer at a time; queueing writers here avoids its sleeping busy handler
        self._write_lock: threading.Lock | contextlib.nullcontext[None] = (
            contextlib.nullcontext() if self.is_postgres else threading.Lock()
        )

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, url: str, *, pool_size: int = 5) -> Store:
        url = database_url(url)
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(
                url,
                pool_pre_ping=True,
                pool_size=pool_size,
                connect_args={"connect_timeout": 5},
            )
        store = cls(engine)
        try:
            with engine.begin() as conn:
                if store.is_postgres:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATE_LOCK})
                migrate(conn)
        except OperationalError as exc:
            raise FleetError(
                f"cannot open the database: {str(exc.orig).strip().splitlines()[0] if exc.orig else exc}",
                field="--db",
            ) from None
        return store

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def _begin(self) -> Iterator[Connection]:
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    # ------------------------------------------------------------------ events

    def record(self, events: Sequence[FluxEvent], received_at: datetime) -> int:
        """Store events (one transaction) and fold them into object state; returns how many were
        new. Retries and re-imports of an event already stored are skipped by its key."""
        return sum(self.record_each(events, received_at))

    def record_each(self, events: Sequence[FluxEvent], received_at: datetime) -> list[int]:
        """Like :meth:`record`, with 1 (stored) or 0 (already there) per event, in input order.

        Rows are visited in object order (stable, so each object's events keep their order) to
        keep concurrent replicas from locking the same objects in opposite orders."""
        order = sorted(
            range(len(events)),
            key=lambda i: (events[i].cluster, events[i].kind, events[i].namespace, events[i].name),
        )
        for attempt in (1, 2):
            try:
                out = [0] * len(events)
                with self._begin() as conn:
                    for i in order:
                        out[i] = self._record_one(conn, events[i], received_at)
                return out
            except IntegrityError:
                # another replica created one of these objects between our read and insert: once
                # more, it is now an update
                if attempt == 2:
                    raise StoreUnavailable("conflicting concurrent writes; retry") from None
            except DBAPIError as exc:
                raise StoreUnavailable(str(exc.orig or exc)) from None
        raise AssertionError("unreachable")

    def _record_one(self, conn: Connection, e: FluxEvent, received_at: datetime) -> int:
        insert = pg_insert(t.events) if self.is_postgres else sqlite_insert(t.events)
        stored = conn.execute(
            insert.values(
                key=e.key,
                cluster=e.cluster,
                kind=e.kind,
                namespace=e.namespace,
                name=e.name,
                api_version=e.api_version,
                severity=e.severity,
                reason=e.reason,
                message=e.message,
                revision=e.revision,
                metadata=json.dumps(e.metadata, sort_keys=True),
                controller=e.controller,
                emitted_at=e.emitted_at,
                received_at=received_at,
            )
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(t.events.c.id)
        ).first()
        if stored is None:  # already stored: a retry, a second replica or a re-import
            return 0
        o = t.objects.c
        where = (
            (o.cluster == e.cluster) & (o.kind == e.kind) & (o.namespace == e.namespace) & (o.name == e.name)
        )
        query = select(t.objects).where(where)
        if self.is_postgres:
            query = query.with_for_update()
        row = conn.execute(query).mappings().first()
        before = _object(row) if row else ObjectState(e.cluster, e.kind, e.namespace, e.name)
        after = fold(before, e)
        values = {
            "ready": after.ready,
            "revision": after.revision,
            "reason": after.reason,
            "message": after.message,
            "last_event_at": after.last_event_at,
            "ready_since": after.ready_since,
            "failed_at": after.failed_at,
        }
        if row:
            conn.execute(t.objects.update().where(where).values(**values))
        else:
            conn.execute(
                t.objects.insert().values(
                    cluster=e.cluster, kind=e.kind, namespace=e.namespace, name=e.name, **values
                )
            )
        return 1

    def objects(self, cluster: str | None = None) -> list[ObjectState]:
        o = t.objects.c
        query = select(t.objects).order_by(o.cluster, o.kind, o.namespace, o.name)
        if cluster is not None:
            query = query.where(o.cluster == cluster)
        with self.engine.connect() as conn:
            return [_object(r) for r in conn.execute(query).mappings()]

    def cluster_summaries(self, wanted_commit: str | None) -> dict[str, ClusterSummary]:
        """Per cluster, aggregated in the database: last event, failing objects, and Kustomizations
        reporting a revision other than ``wanted_commit`` (so a large fleet's overview stays cheap)."""
        o = t.objects.c
        off = (
            case(
                (
                    (o.kind == "Kustomization")
                    & o.revision.is_not(None)
                    & o.revision.not_like(f"%{wanted_commit}"),
                    1,
                ),
                else_=0,
            )
            if wanted_commit and wanted_commit.isalnum()
            else literal(0)
        )
        query = select(
            o.cluster,
            func.max(o.last_event_at),
            func.sum(case((o.ready.is_(False), 1), else_=0)),
            func.sum(off),
            func.count(),
        ).group_by(o.cluster)
        with self.engine.connect() as conn:
            return {
                r[0]: ClusterSummary(utc(r[1]), int(r[2] or 0), int(r[3] or 0), int(r[4]))
                for r in conn.execute(query).all()
            }

    def events(self, *, after: int = 0, cluster: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Events newest first (or, with ``after``, the ones stored after that id, oldest first)."""
        c = t.events.c
        query = select(t.events)
        if cluster:
            query = query.where(c.cluster == cluster)
        query = query.where(c.id > after).order_by(c.id) if after else query.order_by(c.id.desc())
        with self.engine.connect() as conn:
            return [_event_dict(r) for r in conn.execute(query.limit(limit)).mappings()]

    def event_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t.events)).scalar_one())

    # ------------------------------------------------------------------ approvals

    def approve(self, app: str, env: str, version: str, approver: str, now: datetime) -> Approval:
        c = t.approvals.c
        with self._begin() as conn:
            found = (
                conn.execute(
                    select(t.approvals).where(
                        (c.app == app) & (c.env == env) & (c.version == version) & (c.approver == approver)
                    )
                )
                .mappings()
                .first()
            )
            if found is None:
                conn.execute(
                    t.approvals.insert().values(
                        app=app, env=env, version=version, approver=approver, created_at=now
                    )
                )
                found = (
                    conn.execute(
                        select(t.approvals).where(
                            (c.app == app)
                            & (c.env == env)
                            & (c.version == version)
                            & (c.approver == approver)
                        )
                    )
                    .mappings()
                    .one()
                )
        return _approval(found)

    def approvals(
        self, app: str | None = None, env: str | None = None, version: str | None = None
    ) -> list[Approval]:
        c = t.approvals.c
        query = select(t.approvals).order_by(c.id)
        for col, value in ((c.app, app), (c.env, env), (c.version, version)):
            if value is not None:
                query = query.where(col == value)
        with self.engine.connect() as conn:
            return [_approval(r) for r in conn.execute(query).mappings()]

    # ------------------------------------------------------------------ API tokens

    def create_token(
        self, name: str, subject: str, scopes: Sequence[str], expires_at: datetime, now: datetime
    ) -> str:
        """A new token ``ff_<id>_<secret>``; only the secret's SHA-256 is kept."""
        token_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        with self._begin() as conn:
            conn.execute(
                t.api_tokens.insert().values(
                    id=token_id,
                    name=name,
                    secret_hash=hashlib.sha256(secret.encode()).hexdigest(),
                    subject=subject,
                    scopes=" ".join(sorted(set(scopes))),
                    expires_at=expires_at,
                    created_at=now,
                    revoked=False,
                )
            )
        return f"ff_{token_id}_{secret}"

    def check_token(self, token: str, now: datetime) -> ApiToken | None:
        """The token's record when it is genuine, unrevoked and unexpired."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "ff" or len(parts[1]) != 16:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(t.api_tokens).where(t.api_tokens.c.id == parts[1])).mappings().first()
        if row is None:
            return None
        digest = hashlib.sha256(parts[2].encode()).hexdigest()
        if not secrets.compare_digest(digest, row["secret_hash"]):
            return None
        expires = _must(row["expires_at"])
        if row["revoked"] or expires <= now:
            return None
        return ApiToken(row["id"], row["name"], row["subject"], tuple(row["scopes"].split()), expires, False)

    # ------------------------------------------------------------------ audit

    def audit(
        self, actor: str, action: str, subject: str, detail: dict[str, Any], now: datetime
    ) -> AuditEntry:
        """Append one entry, chained to the last one (retried when another writer won the race)."""
        for _ in range(20):
            try:
                with self._begin() as conn:
                    last = conn.execute(
                        select(t.audit.c.seq, t.audit.c.hash).order_by(t.audit.c.seq.desc()).limit(1)
                    ).first()
                    seq = (last[0] + 1) if last else 1
                    prev = last[1] if last else GENESIS
                    digest = entry_hash(prev, seq, now, actor, action, subject, detail)
                    conn.execute(
                        t.audit.insert().values(
                            seq=seq,
                            at=now,
                            actor=actor,
                            action=action,
                            subject=subject,
                            detail=json.dumps(detail, sort_keys=True),
                            prev_hash=prev,
                            hash=digest,
                        )
                    )
                return AuditEntry(seq, now, actor, action, subject, detail, prev, digest)
            except IntegrityError:
                continue
        raise StoreUnavailable("could not append to the audit log (too much contention)")

    def audit_entries(self) -> Iterator[AuditEntry]:
        with self.engine.connect() as conn:
            for r in conn.execute(select(t.audit).order_by(t.audit.c.seq)).mappings():
                yield AuditEntry(
                    r["seq"],
                    _must(r["at"]),
                    r["actor"],
                    r["action"],
                    r["subject"],
                    json.loads(r["detail"]),
                    r["prev_hash"],
                    r["hash"],
                )


def _object(r: Any) -> ObjectState:
    return ObjectState(
        cluster=r["cluster"],
        kind=r["kind"],
        namespace=r["namespace"],
        name=r["name"],
        ready=r["ready"],
        revision=r["revision"],
        reason=r["reason"],
        message=r["message"],
        last_event_at=utc(r["last_event_at"]),
        ready_since=utc(r["ready_since"]),
        failed_at=utc(r["failed_at"]),
    )


def _approval(r: Any) -> Approval:
    return Approval(r["id"], r["app"], r["env"], r["version"], r["approver"], _must(r["created_at"]))


def _event_dict(r: Any) -> dict[str, Any]:
    return {
        "id": r["id"],
        "cluster": r["cluster"],
        "involvedObject": {
            "kind": r["kind"],
            "namespace": r["namespace"],
            "name": r["name"],
            "apiVersion": r["api_version"],
        },
        "severity": r["severity"],
        "reason": r["reason"],
        "message": r["message"],
        "revision": r["revision"],
        "metadata": json.loads(r["metadata"]),
        "reportingController": r["controller"],
        "timestamp": _must(r["emitted_at"]).isoformat(),
        "receivedAt": _must(r["received_at"]).isoformat(),
    }


def _successes_query(cluster: str, kind: str, namespace: str, name: str, since: datetime | None) -> Any:
    c = t.events.c
    query = (
        select(c.revision, func.min(c.emitted_at))
        .where(
            (c.cluster == cluster)
            & (c.kind == kind)
            & (c.namespace == namespace)
            & (c.name == name)
            & (c.severity == "info")
            & (c.reason == "ReconciliationSucceeded")
        )
        .group_by(c.revision)
    )
    if since is not None:
        query = query.where(c.emitted_at > since)
    return query


def successes(
    store: Store, cluster: str, kind: str, namespace: str, name: str, since: datetime | None
) -> list[tuple[str, datetime]]:
    """(revision, first success) for each revision an object reported Ready at after ``since``."""
    with store.engine.connect() as conn:
        rows = conn.execute(_successes_query(cluster, kind, namespace, name, since)).all()
    return sorted(((r[0], _must(r[1])) for r in rows if r[0]), key=lambda x: x[1])
