"""sops-flux-compat over many clusters judges each deployed file once per run (issue 16).

The file is shaped as sops writes it (metadata block with a MAC and version); its value was
pasted in clear text by hand, which the rule reports on every cluster that deploys it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from check.helpers import cluster, ks, store
from fluxfleet.check.context import CheckOptions
from fluxfleet.check.engine import run_checks
from fluxfleet.check.rules import secrets_sops

SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: shop
stringData:
  password: ENC[AES256_GCM,data:Zm9v,iv:aXY=,tag:dGFn,type:str]
  token: typed-in-clear
sops:
  age:
  - recipient: age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq
    enc: |
      -----BEGIN AGE ENCRYPTED FILE-----
      -----END AGE ENCRYPTED FILE-----
  lastmodified: "2026-01-01T00:00:00Z"
  mac: ENC[AES256_GCM,data:bWFj,iv:aXY=,tag:dGFn,type:str]
  encrypted_regex: ^(data|stringData)$
  version: 3.9.0
"""


def test_flux_compat_parses_a_shared_file_once_and_reports_every_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "apps" / "demo").mkdir(parents=True)
    (tmp_path / "apps" / "demo" / "manifests.yaml").write_text(SECRET)
    loads: list[str] = []
    real = secrets_sops.yamlio.load_file

    def counting(path: Path, display: str, *args: Any, **kwargs: Any) -> Any:
        loads.append(display)
        return real(path, display, *args, **kwargs)

    monkeypatch.setattr(secrets_sops.yamlio, "load_file", counting)
    masked = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\nstringData: {password: x}\n"
    )
    renders = [cluster(ks(masked), name=f"c{i}") for i in range(4)]
    result = run_checks(renders, CheckOptions(repo=tmp_path, schemas=store()), only=["sops-flux-compat"])
    assert sorted(f.cluster for f in result.findings) == ["c0", "c1", "c2", "c3"]
    assert all("token" in f.message for f in result.findings)
    assert loads == ["apps/demo/manifests.yaml"]
