"""SIGTERM during a build ends every child and leaves no scratch folder; no cache or temp file holds
a Secret value (or the environment's). Real kustomize, real git, a real fluxfleet process."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import git
from fluxfleet.cli.main import main

from .helpers import cluster_repo, cm, ks, write


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the build's process")
def test_sigterm_during_a_build_kills_the_build_and_removes_scratch_folders(tmp_path: Path) -> None:
    # kustomize takes seconds on a few thousand objects: long enough to be caught mid-build.
    many = "".join(
        f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  k: v{i}\n"
        for i in range(1500)
    )
    repo = cluster_repo(
        tmp_path / "repo",
        {"apps.yaml": [ks("app", "./app", namePrefix="x-")]},
        {"app/kustomization.yaml": "resources: [many.yaml]\n", "app/many.yaml": many},
    )
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "CI": "1"}
    binary = Path(sys.executable).parent / "fluxfleet"
    process = subprocess.Popen(
        [str(binary), "build", "-C", str(repo), "--no-cache"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        builds: list[int] = []
        while time.monotonic() < deadline and not builds and process.poll() is None:
            builds = [
                p for p in _children(process.pid) if "kustomize" in Path(f"/proc/{p}/cmdline").read_text()
            ]
            time.sleep(0.05)
        assert builds, "the build never started"
        assert any(p.name.startswith("fluxfleet-build-") for p in scratch.iterdir())
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, err
    for pid in builds:
        for _ in range(100):
            if not _alive(pid):
                break
            time.sleep(0.05)
        assert not _alive(pid), f"kustomize {pid} outlived fluxfleet"
    assert [p.name for p in scratch.iterdir() if p.name.startswith("fluxfleet-")] == []


SECRETS = {
    "env": "env-canary-3c1f-never-at-rest",
    "plaintext": "plain-canary-9d2e-never-at-rest",
    "literal": "literal-canary-7a4b-never-at-rest",
}


def _grep(folder: Path, needles: list[str]) -> list[str]:
    hits = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path}: {n}" for n in needles if n.encode() in data]
    return hits


def test_no_secret_value_reaches_a_cache_or_a_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("CI_DEPLOY_TOKEN", SECRETS["env"])
    plain_secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "default"},
        "stringData": {"password": SECRETS["plaintext"]},
    }
    repo = cluster_repo(
        tmp_path / "repo",
        {"apps.yaml": [ks("app", "./app", namePrefix="x-"), ks("other", "./other", namePrefix="y-")]},
        {
            "app/kustomization.yaml": (
                "resources: [secret.yaml, cm.yaml]\n"
                f"secretGenerator:\n- name: gen\n  literals: [token={SECRETS['literal']}]\n"
                "configMapGenerator:\n- name: envfile\n  envs: [vars.env]\n"
            ),
            "app/secret.yaml": [plain_secret],
            "app/cm.yaml": [cm("settings", level="1")],
            "app/vars.env": "CI_DEPLOY_TOKEN\n",  # a bare name: would take the value from the environment
            "other/kustomization.yaml": "resources: [cm.yaml]\n",
            "other/cm.yaml": [cm("plain", level="1")],
        },
    )
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-q", "-b", "feature")
    write(repo, {"app/cm.yaml": [cm("settings", level="2")], "other/cm.yaml": [cm("plain", level="2")]})

    assert main(["build", "-C", str(repo)]) == 0
    build_out, build_err = capsys.readouterr()
    assert main(["diff", "-C", str(repo), "-o", "json"]) == 1
    diff_out, diff_err = capsys.readouterr()

    needles = list(SECRETS.values())
    needles += [base64.b64encode(v.encode()).decode() for v in SECRETS.values()]
    assert [n for n in needles if n in build_out + build_err + diff_out + diff_err] == []
    assert any(cache.rglob("*.json")), "nothing was cached: the test would prove nothing"
    assert _grep(cache, needles) == []
    assert _grep(scratch, needles) == []
    assert [p.name for p in scratch.iterdir()] == []  # every scratch folder is gone
