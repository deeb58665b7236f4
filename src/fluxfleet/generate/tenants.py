"""Per-team tenant objects (namespace, service account, quota, network policy) for each cluster.

(Being written by the secrets & tenancy engineer; these empty results keep `generate` working.)
"""

from __future__ import annotations

from typing import Any

from fluxfleet.fleet.load import Fleet
from fluxfleet.fleet.placement import Placement


def plan_tenants(fleet: Fleet, placement: Placement) -> dict[str, str]:
    return {}


def flux_system_patches(fleet: Fleet) -> list[dict[str, Any]]:
    return []


def cluster_resources(fleet: Fleet, placement: Placement) -> dict[str, list[str]]:
    return {}
