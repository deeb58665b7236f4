"""Nothing is lost when PostgreSQL restarts mid-stream: the receiver answers 503 while it is down
(Flux retries 5xx with identical bytes), and the retried events are stored once it is back.

This stops and starts the machine's real PostgreSQL cluster, holding the test lock exclusively so
no other test uses it meanwhile, and always leaves it running."""

from __future__ import annotations

import fcntl
import json
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from serve_helpers import KEYS, T0, Clock, create_pg_database, flux_event, pg_lock, sign

from fluxfleet.fleet.load import load_fleet
from fluxfleet.serve.app import Service, build_app
from fluxfleet.serve.keys import HmacKeys
from fluxfleet.store.db import Store


def _pg_ctl(action: str) -> None:
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
        check=True,
        capture_output=True,
    )


def _wait_up() -> None:
    import psycopg

    for _ in range(100):
        try:
            psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=1).close()
            return
        except psycopg.OperationalError:
            time.sleep(0.2)
    raise AssertionError("PostgreSQL did not come back")


@pytest.fixture
def exclusive_pg() -> Iterator[str]:
    with pg_lock(fcntl.LOCK_EX):
        yield from create_pg_database()


@pytest.mark.slow
def test_postgresql_restart_mid_stream_loses_nothing(repo: Path, exclusive_pg: str) -> None:
    from starlette.testclient import TestClient

    store = Store.open(exclusive_pg)
    clock = Clock()
    svc = Service(store, HmacKeys(dict(KEYS)), load_fleet(repo), clock)
    events = [flux_event(at=T0 + timedelta(seconds=i), message=f"run {i}") for i in range(6)]

    def post(client: TestClient, event: dict[str, object]) -> int:
        body = json.dumps(event).encode()
        res = client.post("/hook/prod-us", content=body, headers={"X-Signature": sign(KEYS["prod-us"], body)})
        return int(res.status_code)

    with TestClient(build_app(svc)) as client:
        assert [post(client, e) for e in events[:2]] == [202, 202]
        _pg_ctl("stop")
        try:
            down = [post(client, e) for e in events[2:4]]
        finally:
            _pg_ctl("start")
            _wait_up()
        assert down == [503, 503]
        # Flux's retries resend the same bytes; the rest of the stream continues
        assert [post(client, e) for e in events[2:]] == [202, 202, 202, 202]
        assert post(client, events[3]) == 202  # a late duplicate retry
    assert store.event_count() == 6
    store.close()
