"""A hostile pull request's chart reads nothing of the CI runner: real helm, real CLI.

Every case plants a canary in the environment and in a file outside the repository, and proves
neither reaches build output. The probe case puts a shell script in front of the real helm (via
``FLUXFLEET_HELM``): it stands for anything helm could be made to do, and shows what the process
running as helm may see (environment, files, TCP) under fluxfleet's confinement (it may execute
only the helm binary, so the probe answers in helm's place).
"""

from __future__ import annotations

import base64
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fluxfleet.cli.main import main
from fluxfleet.render import sandbox

from .helpers import cluster_repo

CANARY_ENV = "canary-helm-env-2f9c"
CANARY_FILE = "canary-helm-file-8b31"


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    secret = tmp_path / "outside" / "token.txt"
    secret.parent.mkdir()
    secret.write_text(f"TOKEN={CANARY_FILE}\n")
    monkeypatch.setenv("GITHUB_TOKEN", CANARY_ENV)
    monkeypatch.setenv("HELM_CANARY", CANARY_ENV)
    return secret


def _release(chart: str = "./charts/evil") -> dict[str, object]:
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "evil", "namespace": "apps"},
        "spec": {
            "interval": "10m",
            "chart": {
                "spec": {
                    "chart": chart,
                    "sourceRef": {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"},
                }
            },
        },
    }


def _build(repo: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["build", "-C", str(repo), "-o", "yaml"])
    out, err = capsys.readouterr()
    return code, out + err


TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: leak
data:
  environ: {{ .Files.Get "files/environ" | quote }}
  outside: {{ .Files.Get "files/outside" | quote }}
  glob: {{ range $p, $b := .Files.Glob "files/**" }}{{ $p }}={{ $b | toString | quote }};{{ end }}
  dns: {{ getHostByName "localhost" | quote }}
  lookup: {{ lookup "v1" "Secret" "default" "x" | toJson | quote }}
"""


def test_chart_symlinks_and_helm_functions_read_nothing_outside(
    tmp_path: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = cluster_repo(
        tmp_path / "repo",
        {"release.yaml": [_release()]},
        {
            "charts/evil/Chart.yaml": "apiVersion: v2\nname: evil\nversion: 1.0.0\n",
            "charts/evil/templates/cm.yaml": TEMPLATE,
        },
    )
    (repo / "charts/evil/files").mkdir()
    os.symlink("/proc/self/environ", repo / "charts/evil/files/environ")
    os.symlink(outside, repo / "charts/evil/files/outside")
    os.symlink(outside, repo / "charts/evil/templates/linked.yaml")
    code, text = _build(repo, capsys)
    assert code == 0, text
    assert "name: leak" in text  # the chart rendered: the leak attempts ran and found nothing
    assert "dns: ''" in text  # helm template keeps getHostByName off (no --enable-dns)
    assert CANARY_ENV not in text and CANARY_FILE not in text


def test_chart_dependency_on_a_folder_outside_is_not_loaded(
    tmp_path: Path, outside: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (outside.parent / "dep").mkdir()
    (outside.parent / "dep/Chart.yaml").write_text("apiVersion: v2\nname: dep\nversion: 0.1.0\n")
    (outside.parent / "dep/templates").mkdir()
    (outside.parent / "dep/templates/cm.yaml").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: dep}}\ndata: {{x: {CANARY_FILE}}}\n"
    )
    relative = os.path.relpath(outside.parent / "dep", tmp_path / "repo/charts/evil")
    repo = cluster_repo(
        tmp_path / "repo",
        {"release.yaml": [_release()]},
        {
            "charts/evil/Chart.yaml": (
                "apiVersion: v2\nname: evil\nversion: 1.0.0\n"
                f"dependencies:\n- name: dep\n  version: 0.1.0\n  repository: file://{relative}\n"
            ),
            "charts/evil/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        },
    )
    os.symlink(outside.parent / "dep", repo / "charts/evil/charts", target_is_directory=True)
    code, text = _build(repo, capsys)
    assert CANARY_FILE not in text and CANARY_ENV not in text
    assert "helm template failed" in text or "missing in charts/" in text, text
    assert code in (0, 1), text


@pytest.fixture
def listener() -> Iterator[tuple[int, list[bytes]]]:
    """A loopback TCP listener recording every connection (what the probe must not reach)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    seen: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                seen.append(conn.recv(100))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], seen
    stop.set()
    thread.join()
    server.close()


@pytest.mark.skipif(sandbox.landlock_abi() < 4, reason="the kernel offers no Landlock network rules")
def test_whatever_runs_as_helm_sees_no_environment_file_or_network(
    tmp_path: Path,
    outside: Path,
    listener: tuple[int, list[bytes]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    port, seen = listener
    probe = tmp_path / "bin" / "helm-probe"
    probe.parent.mkdir()
    probe.write_text(
        "#!/bin/bash\n"
        f"file=$(cat {outside} 2>&1 | base64 -w0)\n"
        "envs=$(env | base64 -w0)\n"
        f"err=$( (echo hello > /dev/tcp/127.0.0.1/{port}) 2>&1 ) && net=reached || net=blocked\n"
        'printf -- "---\\napiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: probe}\\n'
        'data: {file: \\"%s\\", env: \\"%s\\", net: %s}\\n" "$file" "$envs" "$net"\n'
    )
    probe.chmod(0o755)
    monkeypatch.setenv("FLUXFLEET_HELM", str(probe))
    repo = cluster_repo(
        tmp_path / "repo",
        {"release.yaml": [_release()]},
        {
            "charts/evil/Chart.yaml": "apiVersion: v2\nname: evil\nversion: 1.0.0\n",
            "charts/evil/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        },
    )
    code, text = _build(repo, capsys)
    assert code == 0, text
    assert "name: probe" in text and "net: blocked" in text, text
    assert seen == []
    data = text.split("name: probe", 1)[1]
    env_b64 = data.split("env: ", 1)[1].split()[0].strip("'\"")
    env = base64.b64decode(env_b64).decode()
    assert "HOME=" in env and CANARY_ENV not in env and "GITHUB_TOKEN" not in env
    file_b64 = data.split("file: ", 1)[1].split()[0].strip("'\"")
    assert CANARY_FILE not in base64.b64decode(file_b64).decode()
    assert CANARY_FILE not in text and CANARY_ENV not in text


def test_a_template_that_never_ends_is_killed_with_a_render_error(
    tmp_path: Path, outside: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("fluxfleet.render.helm.HELM_TIMEOUT", 3.0)
    endless = "{{ range $i := until 100000000 }}{{ range $j := until 100000000 }}x{{ end }}{{ end }}\n"
    repo = cluster_repo(
        tmp_path / "repo",
        {"release.yaml": [_release()]},
        {
            "charts/evil/Chart.yaml": "apiVersion: v2\nname: evil\nversion: 1.0.0\n",
            "charts/evil/templates/cm.yaml": endless,
        },
    )
    code, text = _build(repo, capsys)
    assert code == 1, text
    # Stopped by one of the sandbox's limits: the wall clock (fluxfleet's timeout) or, when helm
    # allocates faster than the clock runs (a busy machine), its memory/CPU rlimits, which abort the
    # Go runtime with its goroutine dump. Either way the release is a render error, not a hang.
    assert "helm template did not finish within 3s" in text or "goroutine" in text, text
    assert CANARY_ENV not in text and CANARY_FILE not in text
