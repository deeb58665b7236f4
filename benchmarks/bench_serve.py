"""The fleet service under load: signed Flux events ingested per second through ``POST /hook``
(SQLite; PostgreSQL with one and with two ``fluxfleet serve`` replicas behind round-robin), the
status API's time for a fleet of 1,000 clusters × 50 Kustomizations, and one replica's memory.

Load comes from this process on the same 2-core machine (asyncio + httpx over loopback,
pre-signed bodies), so the client competes with the replicas for the CPU.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from fluxfleet.store.db import Store
from fluxfleet.store.events import parse_event

CLUSTERS = 1000
KUSTOMIZATIONS = 50
EVENTS = int(os.environ.get("BENCH_SERVE_EVENTS", "6000"))
CONCURRENCY = 16
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _fleet(root: Path) -> dict[str, str]:
    clusters = "".join(
        f"    - name: c{i:04d}\n      labels: {{environment: prod, region: r{i % 10}}}\n"
        for i in range(CLUSTERS)
    )
    (root / "fleet.yaml").write_text(
        "apiVersion: fluxfleet.dev/v1alpha1\nkind: Fleet\nmetadata:\n  name: bench\nspec:\n"
        "  source:\n    url: https://example.com/fleet.git\n  service:\n    url: https://fleet.example.com\n"
        f"  environments:\n    - name: prod\n  clusters:\n{clusters}"
    )
    return {f"c{i:04d}": secrets.token_hex(32) for i in range(CLUSTERS)}


def _event(i: int, now: datetime) -> tuple[str, dict[str, object]]:
    cluster = f"c{i % CLUSTERS:04d}"
    ks = f"app-{(i // CLUSTERS) % KUSTOMIZATIONS:02d}"
    return cluster, {
        "involvedObject": {
            "kind": "Kustomization",
            "namespace": "flux-system",
            "name": ks,
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        },
        "severity": "info",
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "message": f"Reconciliation finished in {i % 997}ms, next run in 10m0s",
        "reason": "ReconciliationSucceeded",
        "metadata": {
            "revision": "main@sha1:" + hashlib.sha1(str(i % 7).encode()).hexdigest(),
            "cluster": cluster,
        },
        "reportingController": "kustomize-controller",
    }


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(repo: Path, db: str, keys: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from fluxfleet.cli.main import run; run()",
            "serve",
            "-C",
            str(repo),
            "--db",
            db,
            "--keys",
            str(keys),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("serve did not start")


async def _load(urls: list[str], bodies: list[tuple[str, bytes, str]]) -> float:
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        queue = list(enumerate(bodies))
        failures = 0

        async def worker() -> None:
            nonlocal failures
            while queue:
                i, (cluster, body, sig) = queue.pop()
                res = await client.post(
                    f"{urls[i % len(urls)]}/hook/{cluster}",
                    content=body,
                    headers={"X-Signature": sig, "Content-Type": "application/json"},
                )
                failures += res.status_code != 202

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - start
    if failures:
        raise RuntimeError(f"{failures} events refused")
    return elapsed


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _fill_objects(db: str) -> None:
    from fluxfleet.store.schema import objects

    store = Store.open(db)
    now = datetime.now(UTC)
    rows = []
    for i in range(CLUSTERS * KUSTOMIZATIONS):
        cluster, event = _event(i, now)
        e = parse_event(cluster, event)
        failing = i % 997 == 0
        rows.append(
            {
                "cluster": e.cluster,
                "kind": e.kind,
                "namespace": e.namespace,
                "name": e.name,
                "ready": not failing,
                "revision": e.revision,
                "reason": e.reason,
                "message": e.message,
                "last_event_at": now,
                "ready_since": None if failing else now,
                "failed_at": now if failing else None,
            }
        )
    with store.engine.begin() as conn:
        conn.execute(objects.insert(), rows)
    store.close()


def _pg_db() -> str:
    import psycopg

    name = f"ff_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def _pg_drop(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> list[str]:
    tmp = Path(tempfile.mkdtemp(prefix="fluxfleet-bench-serve-"))
    lines: list[str] = []
    created: list[str] = []
    try:
        repo = tmp / "repo"
        repo.mkdir()
        keys = _fleet(repo)
        key_file = tmp / "keys.yaml"
        key_file.write_text("clusters:\n" + "".join(f"  {c}: {k}\n" for c, k in keys.items()))
        key_file.chmod(0o600)

        def bodies(offset: int) -> list[tuple[str, bytes, str]]:
            now = datetime.now(UTC)
            out = []
            for i in range(offset, offset + EVENTS):
                cluster, event = _event(i, now)
                body = json.dumps(event).encode()
                sig = "sha256=" + hmac.new(keys[cluster].encode(), body, hashlib.sha256).hexdigest()
                out.append((cluster, body, sig))
            return out

        runs = {"SQLite, 1 replica": (str(tmp / "fleet.db"), 1)}
        for label, replicas in (("PostgreSQL, 1 replica", 1), ("PostgreSQL, 2 replicas", 2)):
            created.append(_pg_db())
            runs[label] = (f"postgresql://postgres@127.0.0.1:5432/{created[-1]}", replicas)
        rates: dict[str, float] = {}
        if os.environ.get("BENCH_SERVE_ONLY") == "status":
            runs = {}
        for label, (db, replicas) in runs.items():
            procs = [_start(repo, db, key_file) for _ in range(replicas)]
            try:
                elapsed = asyncio.run(_load([u for _, u in procs], bodies(0)))
                rates[label] = EVENTS / elapsed
                lines.append(f"{label}: {EVENTS} events in {elapsed:.1f}s = {rates[label]:,.0f} events/s")
                if replicas == 1 and db.startswith("postgresql"):
                    lines.append(
                        f"memory of one replica after the run: {_rss_mib(procs[0][0].pid):.0f} MiB RSS"
                    )
            finally:
                for proc, _ in procs:
                    proc.terminate()
                    proc.wait(timeout=10)
        if rates:
            one, two = rates["PostgreSQL, 1 replica"], rates["PostgreSQL, 2 replicas"]
            lines.append(f"PostgreSQL 2 vs 1 replicas: {two / one:.2f}×")

        # the status API for a full fleet: every cluster × Kustomization has reported (its state rows
        # written in bulk; ingest is measured above)
        created.append(_pg_db())
        status_db = f"postgresql://postgres@127.0.0.1:5432/{created[-1]}"
        _fill_objects(status_db)
        proc, url = _start(repo, status_db, key_file)
        try:
            token = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "from fluxfleet.cli.main import run; run()",
                    "serve",
                    "token",
                    "--subject",
                    "bench",
                    "--scope",
                    "viewer",
                    "--db",
                    status_db,
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            headers = {"Authorization": f"Bearer {token}"}
            httpx.get(f"{url}/api/status", headers=headers, timeout=60)  # warm
            times = []
            for _ in range(5):
                start = time.perf_counter()
                res = httpx.get(f"{url}/api/status", headers=headers, timeout=60)
                times.append(time.perf_counter() - start)
            objects = sum(c["objects"] for c in res.json()["clusters"])
            lines.append(
                f"GET /api/status, {CLUSTERS} clusters × {KUSTOMIZATIONS} Kustomizations ({objects} objects): "
                f"median {sorted(times)[2] * 1000:.0f} ms"
            )
            lines.append(f"memory of that replica after serving it: {_rss_mib(proc.pid):.0f} MiB RSS")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    finally:
        for name in created:
            _pg_drop(name)
        shutil.rmtree(tmp, ignore_errors=True)
    return lines
