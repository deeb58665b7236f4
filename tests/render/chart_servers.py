"""Real chart servers on loopback for the HelmRelease tests.

- an HTTP chart repository: charts packaged with the real helm, ``helm repo index``, served by a
  threaded HTTP server that counts the requests per path (to prove charts are fetched once);
- an OCI registry: Debian's ``docker-registry`` (the CNCF distribution registry), charts pushed
  with ``helm push``. Tests that need it skip, naming the reason, when it cannot be started.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import functools
import http.server
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fluxfleet.render.helm import find_helm

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
data:
  chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
  message: {{ .Values.message | quote }}
"""


def helm() -> str:
    found, why = find_helm()
    assert found is not None, f"{why}: run `make` to install helm into .venv/bin"
    return found


# A stand-in for a public chart: it shows the values it was given and makes one workload.
STAND_IN = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-values
data:
  chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
  values.yaml: {{ toYaml .Values | quote }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  template:
    spec:
      containers:
        - name: main
          image: {{ printf "example.com/%s:%s" .Chart.Name .Chart.Version }}
"""


def package(out: Path, name: str, version: str, message: str = "default", template: str = CONFIGMAP) -> Path:
    """``helm package`` a small chart into ``out``; returns the archive."""
    src = out.parent / f"src-{name}-{version}"
    (src / "templates").mkdir(parents=True, exist_ok=True)
    (src / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: {version}\n")
    (src / "values.yaml").write_text(f"message: {message}\n")
    (src / "templates/cm.yaml").write_text(template)
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([helm(), "package", str(src), "-d", str(out)], check=True, capture_output=True)
    return out / f"{name}-{version}.tgz"


@dataclass
class HttpRepo:
    url: str
    root: Path
    hits: collections.Counter[str] = field(default_factory=collections.Counter)
    auth: str | None = None  # "user:password" required when set


def _handler(repo: HttpRepo) -> type[http.server.SimpleHTTPRequestHandler]:
    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            repo.hits[self.path] += 1
            if repo.auth is not None:
                want = "Basic " + base64.b64encode(repo.auth.encode()).decode()
                if self.headers.get("Authorization") != want:
                    self.send_error(401, "Unauthorized")
                    return
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


@contextlib.contextmanager
def http_repo(root: Path, auth: str | None = None) -> Iterator[HttpRepo]:
    """Serve ``root`` (with an ``index.yaml`` made by helm) on 127.0.0.1 until the block ends."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run([helm(), "repo", "index", str(root)], check=True, capture_output=True)
    repo = HttpRepo("", root, auth=auth)
    handler = functools.partial(_handler(repo), directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    repo.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield repo
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def oci_registry(scratch: Path) -> Iterator[str]:
    """A distribution registry on loopback; yields ``127.0.0.1:<port>``. Skips when it cannot run."""
    binary = shutil.which("docker-registry") or (
        "/usr/bin/docker-registry" if Path("/usr/bin/docker-registry").is_file() else None
    )
    if binary is None:
        pytest.skip(
            "docker-registry is not installed (make installs it with apt-get install docker-registry)"
        )
    port = _free_port()
    storage = scratch / "registry-data"
    storage.mkdir(parents=True, exist_ok=True)
    config = scratch / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {storage}\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                pytest.skip(f"docker-registry did not start on 127.0.0.1:{port}: {err[-300:]}")
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def push(archive: Path, registry: str, path: str = "charts") -> str:
    """``helm push`` an archive; returns the manifest digest helm printed."""
    out = subprocess.run(
        [helm(), "push", str(archive), f"oci://{registry}/{path}", "--plain-http"],
        check=True,
        capture_output=True,
        text=True,
    )
    for line in (out.stdout + out.stderr).splitlines():
        if line.startswith("Digest:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"helm push printed no digest: {out.stdout}{out.stderr}")
