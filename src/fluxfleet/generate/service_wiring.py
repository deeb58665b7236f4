"""Point every cluster's Flux at the fleet service (when fleet.yaml names ``spec.service.url``).

Per cluster, ``<cluster folder>/fluxfleet-service.yaml`` is a Flux Kustomization (with SOPS
decryption) reconciling ``<cluster folder>/fluxfleet-service/``, which holds:

- ``wiring.yaml`` (generated): a ``generic-hmac`` Provider posting to ``<url>/hook/<cluster>`` and an
  Alert sending every Kustomization and GitRepository event of flux-system, with ``eventMetadata``
  cluster, environment and region (inside the signed body: the payload itself names no cluster);
- ``hmac.sops.yaml`` (the user's, written by ``fluxfleet serve keys``): the Provider's Secret.

Kept apart from the alerting Providers so both can be unified later without touching each other.
"""

from __future__ import annotations

from typing import Any

from fluxfleet import yamlio
from fluxfleet.fleet.load import Fleet
from fluxfleet.generate.alerts import notification_objects
from fluxfleet.generate.flux_objects import KS_API, SOURCE_REF
from fluxfleet.generate.layout import FLUX_NAMESPACE, cluster_dirs

NAME = "fluxfleet-service"
FOLDER = "fluxfleet-service"
ROOT_FILE = "fluxfleet-service.yaml"
SECRET_FILE = f"{FOLDER}/hmac.sops.yaml"
SECRET_NAME = "fluxfleet-service-hmac"


def _objects(url: str, cluster: str, environment: str, region: str) -> list[dict[str, Any]]:
    return notification_objects(
        "generic-hmac",
        url,
        SECRET_NAME,
        [{"kind": "Kustomization", "name": "*"}, {"kind": "GitRepository", "name": "*"}],
        {"cluster": cluster, "environment": environment, "region": region},
        name=NAME,
    )


def plan_service_wiring(fleet: Fleet) -> dict[str, str]:
    """Generated files (without header) per cluster; empty without ``spec.service``."""
    if fleet.service is None:
        return {}
    dirs = cluster_dirs(fleet)
    out: dict[str, str] = {}
    for c in fleet.clusters:
        folder = dirs[c.name]
        spec: dict[str, Any] = {
            "interval": "10m0s",
            "path": f"./{folder}/{FOLDER}",
            "prune": True,
            "sourceRef": dict(SOURCE_REF),
            "decryption": {"provider": "sops", "secretRef": {"name": "sops-age"}},
        }
        ks = {
            "apiVersion": KS_API,
            "kind": "Kustomization",
            "metadata": {"name": NAME, "namespace": FLUX_NAMESPACE},
            "spec": spec,
        }
        out[f"{folder}/{ROOT_FILE}"] = yamlio.dump(ks)
        objects = _objects(fleet.service.hook_url(c.name), c.name, c.environment, c.region)
        out[f"{folder}/{FOLDER}/wiring.yaml"] = yamlio.dump_all(objects)
    return out


def cluster_resources(fleet: Fleet) -> dict[str, list[str]]:
    return {c.name: [ROOT_FILE] for c in fleet.clusters} if fleet.service else {}
