"""Alembic environment: always runs on the connection :func:`fluxfleet.store.db.migrate` hands in."""

from __future__ import annotations

from alembic import context

from fluxfleet.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
