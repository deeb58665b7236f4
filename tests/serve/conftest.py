"""Fixtures for the fleet service: a committed fleet repository, the store on SQLite and on the
machine's real PostgreSQL (a database per test, dropped afterwards) and the app under test."""

from __future__ import annotations

import fcntl
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from idp import CLIENT_ID, Served, free_port, start_idp
from serve_helpers import FLEET_YAML, KEYS, T0, USERS, Clock, Dash, Harness, create_pg_database, git, pg_lock

from fluxfleet.fleet.load import load_fleet
from fluxfleet.generate.run import generate
from fluxfleet.serve.app import Service, build_app
from fluxfleet.serve.keys import HmacKeys
from fluxfleet.serve.oidc import Oidc, OidcConfig
from fluxfleet.serve.session import Signer
from fluxfleet.serve.versions import VersionIndex
from fluxfleet.serve.web import WebConfig
from fluxfleet.store.db import Store


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "fleet.yaml").write_text(FLEET_YAML)
    generate(root)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "fleet")
    return root


def _pg_database() -> Iterator[str]:
    with pg_lock(fcntl.LOCK_SH):
        yield from create_pg_database()


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLite unless a module asks for both stores with ``BOTH_STORES``."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield str(tmp_path / "fleet.db")
    else:
        yield from _pg_database()


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _pg_database()


@pytest.fixture
def harness(repo: Path, db_url: str) -> Iterator[Harness]:
    from starlette.testclient import TestClient

    store = Store.open(db_url)
    clock = Clock()
    svc = Service(store, HmacKeys(dict(KEYS)), load_fleet(repo), clock, VersionIndex(repo))
    far = T0 + timedelta(days=365)
    tokens = {
        "viewer": store.create_token("t", "viewer@example.com", ["viewer"], far, T0),
        "staging": store.create_token("t", "stella@example.com", ["approver:staging"], far, T0),
        "prod1": store.create_token("t", "paula@example.com", ["approver:prod"], far, T0),
        "prod2": store.create_token("t", "pedro@example.com", ["approver:prod:team-a"], far, T0),
        "admin": store.create_token("t", "ada@example.com", ["admin"], far, T0),
    }
    with TestClient(build_app(svc)) as client:
        yield Harness(svc, clock, client, tokens)
    store.close()


@pytest.fixture
def dash(repo: Path, tmp_path: Path) -> Iterator[Dash]:
    idp, idp_server = start_idp(USERS)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    oidc = Oidc(OidcConfig(idp.issuer, CLIENT_ID, None, f"{url}/login/callback"))
    web = WebConfig(Signer(secrets.token_bytes(32)), oidc, secure_cookies=False, stream_poll=0.1)
    store = Store.open(str(tmp_path / "fleet.db"))
    svc = Service(
        store, HmacKeys(dict(KEYS)), load_fleet(repo), lambda: datetime.now(UTC), VersionIndex(repo), web=web
    )
    try:
        with Served(build_app(svc), port):
            yield Dash(url, idp, svc)
    finally:
        idp_server.__exit__()
        store.close()
