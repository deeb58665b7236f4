"""The service's commands from the CLI: keys (with the real sops), tokens, events import, audit
verify/export, and `fluxfleet serve` itself on a loopback port."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyrage
import pytest
from serve_helpers import FLEET_YAML, KEYS, flux_event, git, sign

from fluxfleet.cli.main import main
from fluxfleet.fleet.load import load_fleet
from fluxfleet.generate.run import generate


@pytest.fixture
def age_repo(tmp_path: Path) -> tuple[Path, pyrage.x25519.Identity]:
    ident = pyrage.x25519.Identity.generate()
    root = tmp_path / "repo"
    root.mkdir()
    text = FLEET_YAML.replace(
        "  environments:\n",
        f"  secrets:\n    ageRecipients:\n      staging: [{ident.to_public()}]\n      prod: [{ident.to_public()}]\n"
        "  environments:\n",
        1,
    )
    (root / "fleet.yaml").write_text(text)
    generate(root)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "fleet")
    return root, ident


def test_keys_go_to_a_private_file_and_sops_secrets(
    age_repo: tuple[Path, pyrage.x25519.Identity], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, ident = age_repo
    keys = tmp_path / "etc" / "hmac-keys.yaml"
    assert main(["serve", "keys", "--keys", str(keys), "-C", str(repo), "-o", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["clusters"] == ["prod-eu", "prod-us", "staging-eu"]
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    from fluxfleet.serve.keys import load_keys

    loaded = load_keys(keys)
    secret = repo / "clusters/prod/eu/fluxfleet-service/hmac.sops.yaml"
    text = secret.read_text()
    assert "sops:" in text and loaded.keys["prod-eu"].decode() not in text
    key_file = tmp_path / "age.txt"
    key_file.write_text(str(ident))
    plain = subprocess.run(
        ["sops", "--decrypt", str(secret)],
        env={**os.environ, "SOPS_AGE_KEY_FILE": str(key_file)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert loaded.keys["prod-eu"].decode() in plain and "fluxfleet-service-hmac" in plain
    # idempotent: nothing new the second time; --rotate replaces one key
    assert main(["serve", "keys", "--keys", str(keys), "-C", str(repo), "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["written"] == []
    assert (
        main(["serve", "keys", "--keys", str(keys), "-C", str(repo), "--rotate", "prod-us", "-o", "json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["clusters"] == ["prod-us"]
    assert load_keys(keys).keys["prod-us"] != loaded.keys["prod-us"]
    assert load_keys(keys).keys["prod-eu"] == loaded.keys["prod-eu"]


def test_keys_file_inside_the_repository_is_refused(
    age_repo: tuple[Path, pyrage.x25519.Identity], capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _ = age_repo
    assert main(["serve", "keys", "--keys", str(repo / "keys.yaml"), "-C", str(repo)]) == 2
    assert "outside the repository" in capsys.readouterr().err
    assert not (repo / "keys.yaml").exists()
    assert not (repo / "clusters/prod/eu/fluxfleet-service/hmac.sops.yaml").exists()


def test_events_import_is_idempotent(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "fleet.db"
    lines = [flux_event(cluster="prod-eu"), flux_event(cluster="prod-us", reason="Progressing")]
    file = tmp_path / "events.jsonl"
    file.write_text("\n".join(json.dumps(e) for e in lines) + "\n")
    args = ["events", "import", str(file), "--db", str(db), "-C", str(repo), "-o", "json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out) == {
        "file": str(file),
        "events": 2,
        "stored": 2,
        "duplicates": 0,
    }
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["stored"] == 0


def test_events_import_errors_name_line_and_field(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "fleet.db"
    file = tmp_path / "events.jsonl"
    bad = flux_event(cluster="prod-eu")
    bad["timestamp"] = "yesterday"
    file.write_text(json.dumps(flux_event(cluster="prod-eu")) + "\n" + json.dumps(bad) + "\n")
    assert main(["events", "import", str(file), "--db", str(db), "-C", str(repo)]) == 2
    err = capsys.readouterr().err
    assert "events.jsonl:2" in err and "timestamp" in err
    file.write_text(json.dumps(flux_event(cluster="prod-xx")) + "\n")
    assert main(["events", "import", str(file), "--db", str(db), "-C", str(repo)]) == 2
    assert "unknown cluster 'prod-xx'" in capsys.readouterr().err
    file.write_text(json.dumps(flux_event()) + "\n")
    assert main(["events", "import", str(file), "--db", str(db), "-C", str(repo)]) == 2
    assert "--cluster" in capsys.readouterr().err


def test_token_and_audit_verify_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "fleet.db")
    assert main(["serve", "token", "--subject", "ci@example.com", "--scope", "viewer", "--db", db]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("ff_")
    assert main(["serve", "token", "--subject", "x", "--scope", "root", "--db", db]) == 2
    assert "unknown scope" in capsys.readouterr().err
    assert main(["audit", "verify", "--db", db, "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"entries": 1, "ok": True, "problem": None}
    assert main(["audit", "export", "--db", db]) == 0
    [line] = capsys.readouterr().out.splitlines()
    entry = json.loads(line)
    assert entry["action"] == "token-create" and token not in line
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM audit")
        conn.execute(
            "INSERT INTO audit VALUES (1, '2026-01-01 00:00:00', 'x', 'approve', 's', '{}', ?, ?)",
            ("0" * 64, "f" * 64),
        )
    assert main(["audit", "verify", "--db", db]) == 1
    assert "TAMPERED" in capsys.readouterr().out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_fluxfleet_serve_receives_events_over_http(repo: Path, tmp_path: Path) -> None:
    keys = tmp_path / "keys.yaml"
    keys.write_text("clusters:\n" + "".join(f"  {c}: {k.decode().strip()}\n" for c, k in KEYS.items()))
    keys.chmod(0o600)
    db = tmp_path / "fleet.db"
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from fluxfleet.cli.main import run; run()",
            "serve",
            "-C",
            str(repo),
            "--db",
            str(db),
            "--keys",
            str(keys),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        from datetime import UTC, datetime

        event = flux_event(at=datetime.now(UTC), cluster="staging-eu")
        body = json.dumps(event).encode()
        res = httpx.post(
            f"{base}/hook/staging-eu", content=body, headers={"X-Signature": sign(KEYS["staging-eu"], body)}
        )
        assert res.status_code == 202 and res.json() == {"stored": 1}
        assert httpx.get(f"{base}/api/status").status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert load_fleet(repo).service is not None


def test_serve_refuses_a_key_file_others_can_read(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "keys.yaml"
    keys.write_text("clusters:\n  prod-eu: " + "a" * 64 + "\n")
    keys.chmod(0o644)
    assert main(["serve", "-C", str(repo), "--db", str(tmp_path / "f.db"), "--keys", str(keys)]) == 2
    assert "chmod 600" in capsys.readouterr().err
    keys.chmod(0o600)
    keys.write_text("clusters:\n  prod-eu: short\n")
    assert main(["serve", "-C", str(repo), "--db", str(tmp_path / "f.db"), "--keys", str(keys)]) == 2
    assert "at least 32 characters" in capsys.readouterr().err
