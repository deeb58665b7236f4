"""``.sops.yaml`` creation rules per environment.

(Being written by the secrets & tenancy engineer; this empty result keeps `generate` working.)
"""

from __future__ import annotations

from fluxfleet.fleet.load import Fleet


def plan_sops_rules(fleet: Fleet) -> dict[str, str]:
    return {}
