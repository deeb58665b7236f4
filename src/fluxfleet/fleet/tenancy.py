"""Teams (tenants) and secrets settings of fleet.yaml."""

from __future__ import annotations

from pydantic import Field

from fluxfleet.fleet.base import Name, Strict


class TeamLimits(Strict):
    cpu: str = "4"
    memory: str = "8Gi"
    pods: int = 50


class Team(Strict):
    name: Name
    limits: TeamLimits = Field(default_factory=TeamLimits)
    allow_ingress_from: tuple[str, ...] = Field(default=(), alias="allowIngressFrom")


class SecretsConfig(Strict):
    """Public age recipients per environment; private keys never live in the repository."""

    age_recipients: dict[str, tuple[str, ...]] = Field(default_factory=dict, alias="ageRecipients")
