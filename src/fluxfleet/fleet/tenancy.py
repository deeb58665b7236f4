"""Teams (tenants) and secrets settings of fleet.yaml.

A team owns apps; on every cluster where those apps run it gets a locked-down namespace per app
namespace, a reconcile ServiceAccount its Kustomizations impersonate, quotas and network policies.
``guardrails`` switch those safety nets off one by one (each maps to a ``fluxfleet check`` rule, so
turning one off is visible). ``secrets`` holds only public age recipients: private keys never live
in the repository.
"""

from __future__ import annotations

import ipaddress
import re

from pydantic import Field, field_validator

from fluxfleet.fleet.base import Name, Strict

# Kubernetes resource.Quantity (the subset people write: plain, decimal SI and binary suffixes).
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")

# The ServiceAccounts of Flux's controllers (cluster-admin through the cluster-reconciler binding).
FLUX_CONTROLLER_ACCOUNTS = frozenset(
    {
        "source-controller",
        "kustomize-controller",
        "helm-controller",
        "notification-controller",
        "image-reflector-controller",
        "image-automation-controller",
        "source-watcher",
    }
)
# ServiceAccounts that already exist in flux-system: a team with one of these names would
# impersonate a Flux controller (or the lockdown's powerless default account).
RESERVED_TEAM_NAMES = FLUX_CONTROLLER_ACCOUNTS | {"default", "flux-system"}

DEFAULT_ENCRYPTED_REGEX = "^(data|stringData)$"


def _quantity(v: str) -> str:
    if not _QUANTITY.fullmatch(v):
        raise ValueError(f"{v!r} is not a Kubernetes quantity like 500m, 2, 512Mi or 4Gi")
    return v


class Resources(Strict):
    cpu: str
    memory: str

    @field_validator("cpu", "memory")
    @classmethod
    def _q(cls, v: str) -> str:
        return _quantity(v)


class TeamLimits(Strict):
    """Per-namespace ResourceQuota (``cpu``, ``memory``, ``pods``) and LimitRange container defaults."""

    cpu: str = "4"
    memory: str = "8Gi"
    pods: int = Field(default=50, ge=1)
    default_request: Resources = Field(
        default_factory=lambda: Resources(cpu="100m", memory="128Mi"), alias="defaultRequest"
    )
    default_limit: Resources = Field(
        default_factory=lambda: Resources(cpu="500m", memory="512Mi"), alias="defaultLimit"
    )

    @field_validator("cpu", "memory")
    @classmethod
    def _q(cls, v: str) -> str:
        return _quantity(v)


class Guardrails(Strict):
    """Each switch maps to one ``fluxfleet check`` rule; all are on by default."""

    network_policy: bool = Field(default=True, alias="networkPolicy")  # tenant-default-deny-netpol
    resource_quota: bool = Field(default=True, alias="resourceQuota")  # tenant-resource-quota
    impersonation: bool = True  # flux-tenant-impersonation
    allow_dns: bool = Field(default=True, alias="allowDns")  # egress to kube-dns despite default-deny
    allow_same_namespace: bool = Field(default=True, alias="allowSameNamespace")
    pod_security: str = Field(default="restricted", alias="podSecurity")

    @field_validator("pod_security")
    @classmethod
    def _pss(cls, v: str) -> str:
        if v not in ("privileged", "baseline", "restricted"):
            raise ValueError("podSecurity must be one of privileged, baseline, restricted")
        return v


class Team(Strict):
    name: Name
    limits: TeamLimits = Field(default_factory=TeamLimits)
    # Namespaces whose pods may open connections to this team's pods (e.g. ingress-nginx).
    allow_ingress_from: tuple[str, ...] = Field(default=(), alias="allowIngressFrom")
    # Namespaces, or CIDRs like 10.0.0.0/8 or 0.0.0.0/0, this team's pods may connect to.
    allow_egress_to: tuple[str, ...] = Field(default=(), alias="allowEgressTo")
    guardrails: Guardrails = Field(default_factory=Guardrails)

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, v: str) -> str:
        if v in RESERVED_TEAM_NAMES:
            raise ValueError(
                f"team name {v!r} is the name of a ServiceAccount Flux itself uses in flux-system"
            )
        return v

    @field_validator("allow_ingress_from")
    @classmethod
    def _namespaces(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from fluxfleet.fleet.names import dns1123_label_error

        for ns in v:
            err = dns1123_label_error(ns)
            if err:
                raise ValueError(f"allowIngressFrom: {err}")
        return v

    @field_validator("allow_egress_to")
    @classmethod
    def _egress(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from fluxfleet.fleet.names import dns1123_label_error

        for item in v:
            if "/" in item:
                try:
                    ipaddress.ip_network(item, strict=True)
                except ValueError as exc:
                    raise ValueError(f"allowEgressTo: {item!r} is not a CIDR ({exc})") from None
            elif err := dns1123_label_error(item):
                raise ValueError(f"allowEgressTo: {err} (write a namespace name or a CIDR)")
        return v


class SecretsConfig(Strict):
    """Public age recipients per environment; private keys never live in the repository."""

    age_recipients: dict[str, tuple[str, ...]] = Field(default_factory=dict, alias="ageRecipients")
    # Which keys sops encrypts. Flux needs apiVersion, kind and metadata in clear text.
    encrypted_regex: str = Field(default=DEFAULT_ENCRYPTED_REGEX, alias="encryptedRegex")

    @field_validator("age_recipients")
    @classmethod
    def _recipients(cls, v: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        from fluxfleet.secrets.recipients import recipient_error

        for env, recipients in v.items():
            for r in recipients:
                err = recipient_error(r)
                if err:
                    raise ValueError(f"ageRecipients.{env}: {err}")
            if len(set(recipients)) != len(recipients):
                raise ValueError(f"ageRecipients.{env}: a recipient is listed twice")
        return v

    @field_validator("encrypted_regex")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"encryptedRegex is not a valid regular expression: {exc}") from None
        return v
