"""Initial tables: events, objects, approvals, api_tokens, audit.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("cluster", sa.String(253), nullable=False),
        sa.Column("kind", sa.String(63), nullable=False),
        sa.Column("namespace", sa.String(253), nullable=False),
        sa.Column("name", sa.String(253), nullable=False),
        sa.Column("api_version", sa.String(253), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(256), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("revision", sa.String(4096)),
        sa.Column("metadata", sa.Text, nullable=False),
        sa.Column("controller", sa.String(253), nullable=False),
        sa.Column("emitted_at", _TIME, nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
    )
    op.create_index("ix_events_cluster_id", "events", ["cluster", "id"])
    op.create_table(
        "objects",
        sa.Column("cluster", sa.String(253), primary_key=True),
        sa.Column("kind", sa.String(63), primary_key=True),
        sa.Column("namespace", sa.String(253), primary_key=True),
        sa.Column("name", sa.String(253), primary_key=True),
        sa.Column("ready", sa.Boolean),
        sa.Column("revision", sa.String(4096)),
        sa.Column("reason", sa.String(256), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("last_event_at", _TIME),
        sa.Column("ready_since", _TIME),
        sa.Column("failed_at", _TIME),
    )
    op.create_table(
        "approvals",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("app", sa.String(63), nullable=False),
        sa.Column("env", sa.String(63), nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("approver", sa.String(320), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.UniqueConstraint("app", "env", "version", "approver", name="uq_approvals_once"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(320), nullable=False),
        sa.Column("scopes", sa.String(512), nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
    )
    op.create_table(
        "audit",
        sa.Column("seq", _ID, primary_key=True, autoincrement=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(512), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    for table in ("audit", "api_tokens", "approvals", "objects", "events"):
        op.drop_table(table)
