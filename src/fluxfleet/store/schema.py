"""The tables (SQLAlchemy Core). The Alembic migrations under ``migrations/`` create exactly these;
``tests/store`` checks that they agree."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()
# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key.
Id = BigInteger().with_variant(Integer(), "sqlite")
Time = DateTime(timezone=True)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("cluster", String(253), nullable=False),
    Column("kind", String(63), nullable=False),
    Column("namespace", String(253), nullable=False),
    Column("name", String(253), nullable=False),
    Column("api_version", String(253), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("reason", String(256), nullable=False),
    Column("message", Text, nullable=False),
    Column("revision", String(4096)),
    Column("metadata", Text, nullable=False),
    Column("controller", String(253), nullable=False),
    Column("emitted_at", Time, nullable=False),
    Column("received_at", Time, nullable=False),
    Index("ix_events_cluster_id", "cluster", "id"),
)

objects = Table(
    "objects",
    metadata,
    Column("cluster", String(253), primary_key=True),
    Column("kind", String(63), primary_key=True),
    Column("namespace", String(253), primary_key=True),
    Column("name", String(253), primary_key=True),
    Column("ready", Boolean),
    Column("revision", String(4096)),
    Column("reason", String(256), nullable=False),
    Column("message", Text, nullable=False),
    Column("last_event_at", Time),
    Column("ready_since", Time),
    Column("failed_at", Time),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("app", String(63), nullable=False),
    Column("env", String(63), nullable=False),
    Column("version", String(128), nullable=False),
    Column("approver", String(320), nullable=False),
    Column("created_at", Time, nullable=False),
    UniqueConstraint("app", "env", "version", "approver", name="uq_approvals_once"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("subject", String(320), nullable=False),
    Column("scopes", String(512), nullable=False),
    Column("expires_at", Time, nullable=False),
    Column("created_at", Time, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)

audit = Table(
    "audit",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),
    Column("at", Time, nullable=False),
    Column("actor", String(320), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(512), nullable=False),
    Column("detail", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
