"""``spec.service`` of fleet.yaml: where the fleet service runs and whom it trusts.

The service (``fluxfleet serve``) receives Flux events from every cluster and answers the promotion
gates. fleet.yaml names its URL (``generate`` points each cluster's notification Provider at it),
how many distinct approvers each environment needs, and which identity-provider groups hold which
role. Roles: ``viewer`` reads, ``approver`` approves promotions into the listed environments (and
teams; empty lists mean all), ``admin`` does everything, including overriding health or approval.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from fluxfleet.fleet.base import Duration, Name, Strict

Role = Literal["viewer", "approver", "admin"]


class RoleBinding(Strict):
    group: str = Field(min_length=1)
    role: Role
    environments: tuple[Name, ...] = ()
    teams: tuple[Name, ...] = ()


class ServiceConfig(Strict):
    url: str
    # environment -> distinct approvers a promotion into it needs (0 or absent: none)
    approvals: dict[str, int] = Field(default_factory=dict)
    roles: tuple[RoleBinding, ...] = ()
    # no event from a cluster for this long marks it silent (Flux sends no heartbeat of its own)
    silent_after: Duration = Field(default="30m", alias="silentAfter")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")) or len(v) > 1900:
            raise ValueError(
                "url must start with https:// or http:// (and fit Flux's 2048-character address)"
            )
        return v.rstrip("/")

    @field_validator("approvals")
    @classmethod
    def _counts(cls, v: dict[str, int]) -> dict[str, int]:
        for env, n in v.items():
            if n < 0 or n > 20:
                raise ValueError(f"approvals for {env!r} must be between 0 and 20")
        return v

    def hook_url(self, cluster: str) -> str:
        return f"{self.url}/hook/{cluster}"
