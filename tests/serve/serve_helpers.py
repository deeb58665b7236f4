"""Helpers for the fleet service tests: the test fleet, HMAC keys, a settable clock, signed
notification-controller events and an HTTP harness over the real application.

Nothing is faked except what cannot run here: the events come from the test instead of a live
notification-controller, in the exact format it sends (Event: involvedObject, severity, timestamp,
message, reason, metadata, reportingController).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fluxfleet.serve.app import Service

# `pytestmark = BOTH_STORES` runs a module on SQLite and on PostgreSQL
BOTH_STORES = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"

FLEET_YAML = """\
apiVersion: fluxfleet.dev/v1alpha1
kind: Fleet
metadata:
  name: svc
spec:
  source:
    url: https://example.com/fleet.git
  service:
    url: https://fleet.example.com
    silentAfter: 30m
    approvals: {prod: 2}
    roles:
      - {group: sre, role: admin}
      - {group: devs, role: viewer}
      - {group: prod-approvers, role: approver, environments: [prod]}
  environments:
    - name: staging
      interval: 5m
    - name: prod
      interval: 10m
  clusters:
    - name: staging-eu
      labels: {environment: staging, region: eu}
    - name: prod-eu
      labels: {environment: prod, region: eu}
    - name: prod-us
      labels: {environment: prod, region: us}
  apps:
    - name: web
      namespace: web
      team: team-a
      images: [ghcr.io/example/web]
      versions: {staging: v2.0.0, prod: v1.0.0}
"""

KEYS = {
    "staging-eu": b"a" * 64,
    "prod-eu": b"b" * 64 + b"\n",  # Flux signs with the Secret's token untrimmed: a newline counts
    "prod-us": b"c" * 64,
}
T0 = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


@contextmanager
def pg_lock(mode: int) -> Iterator[None]:
    """Tests using PostgreSQL hold it shared; the restart test holds it exclusively, so no other
    test (in another xdist worker) sees the server go down under it."""
    with open(Path(tempfile.gettempdir()) / "fluxfleet-test-postgresql.lock", "a") as fh:
        fcntl.flock(fh, mode)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def create_pg_database() -> Iterator[str]:
    import psycopg

    name = f"ff_test_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@dataclass
class Harness:
    service: Service
    clock: Clock
    client: Any
    tokens: dict[str, str] = field(default_factory=dict)

    def post_event(self, cluster: str, event: dict[str, Any], key: bytes | None = None) -> Any:
        body = json.dumps(event).encode()
        return self.client.post(
            f"/hook/{cluster}",
            content=body,
            headers={"Content-Type": "application/json", "X-Signature": sign(key or KEYS[cluster], body)},
        )

    def get(self, path: str, who: str = "viewer", **params: Any) -> Any:
        return self.client.get(path, params=params, headers={"Authorization": f"Bearer {self.tokens[who]}"})

    def approve(self, who: str, app: str, env: str, version: str) -> Any:
        return self.client.post(
            "/api/approvals",
            json={"app": app, "env": env, "version": version},
            headers={"Authorization": f"Bearer {self.tokens[who]}"},
        )


def sign(key: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def flux_event(
    name: str = "app-web",
    *,
    reason: str = "ReconciliationSucceeded",
    severity: str = "info",
    revision: str | None = "main@sha1:" + "1" * 40,
    at: datetime = T0,
    kind: str = "Kustomization",
    prefixed: bool = False,
    cluster: str | None = None,
    message: str = "Reconciliation finished in 1.2s, next run in 10m0s",
) -> dict[str, Any]:
    """A notification-controller Event as a generic-hmac Provider posts it."""
    group = "kustomize.toolkit.fluxcd.io" if kind == "Kustomization" else "helm.toolkit.fluxcd.io"
    metadata: dict[str, str] = {}
    if revision is not None:
        metadata[f"{group}/revision" if prefixed else "revision"] = revision
    if reason == "ReconciliationSucceeded":
        metadata["commit_status"] = "update"
    if cluster:
        metadata.update({"cluster": cluster, "environment": cluster.split("-")[0], "region": "eu"})
    return {
        "involvedObject": {
            "kind": kind,
            "namespace": "flux-system",
            "name": name,
            "uid": "7c8b2d4e-0000-4000-8000-000000000001",
            "apiVersion": f"{group}/v1",
            "resourceVersion": "12345",
        },
        "severity": severity,
        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "message": message,
        "reason": reason,
        "metadata": metadata,
        "reportingController": "kustomize-controller",
        "reportingInstance": "kustomize-controller-6d8f7b9c4-x2x7l",
    }


USERS = {
    "ada@example.com": ["sre"],
    "dev@example.com": ["devs"],
    "paula@example.com": ["prod-approvers"],
    "nobody@example.com": ["marketing"],
}


@dataclass
class Dash:
    url: str
    idp: Any  # idp.OidcTestProvider
    svc: Service
