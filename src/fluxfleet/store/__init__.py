"""The fleet service's store: Flux events, per-object state folded from them, approvals, API
tokens and the hash-chained audit log, in SQLAlchemy 2 tables with Alembic migrations shipped in
the package. SQLite in a file by default; PostgreSQL by URL for several stateless replicas (events
are de-duplicated by an idempotency key, so a retried or re-imported event is stored once).
Knows nothing of HTTP."""
