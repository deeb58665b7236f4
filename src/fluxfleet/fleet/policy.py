"""The ``policy`` section of fleet.yaml: rule selection, severities and guardrail settings.

Repositories without a fleet.yaml keep the same mapping in ``.fluxfleet/policy.yaml``. Rule ids
are validated by ``fluxfleet check`` (this model does not know the rule registry).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from fluxfleet import yamlio
from fluxfleet.errors import FleetError, FleetErrors
from fluxfleet.fleet.base import Strict

Severity = Literal["info", "low", "medium", "high", "critical"]
POLICY_FILE = ".fluxfleet/policy.yaml"
# Flux minor versions whose API removals fluxfleet knows (see the deprecations rules).
SUPPORTED_FLUX = ((2, 0), (2, 9))


def flux_version_error(version: str) -> str | None:
    """Why ``version`` is not a Flux version fluxfleet can check against, or None."""
    parts = version.removeprefix("v").split(".")
    try:
        minor = (int(parts[0]), int(parts[1]) if len(parts) > 1 else 0)
    except ValueError:
        return f"{version!r} is not a Flux version like 2.9"
    low, high = SUPPORTED_FLUX
    if not low <= minor <= high:
        return f"Flux {version} is outside the supported range {low[0]}.{low[1]} to {high[0]}.{high[1]}"
    return None


class RuleOverride(Strict):
    enabled: bool | None = None
    severity: Severity | None = None
    # per environment: a severity, or "off" to disable the rule there (prod stricter than dev)
    environments: dict[str, Severity | Literal["off"]] = Field(default_factory=dict)


class PolicyConfig(Strict):
    rules: dict[str, RuleOverride] = Field(default_factory=dict)
    # conftest-style policy folders (Rego v1, package ``main``), repository-relative
    rego: tuple[str, ...] = ()
    # folders of Gatekeeper ConstraintTemplates + Constraints applied to every cluster (besides
    # those the clusters' renders contain)
    gatekeeper: tuple[str, ...] = ()
    fail_on: Severity = Field(default="high", alias="failOn")
    kubernetes_version: str | None = Field(default=None, alias="kubernetesVersion")
    flux_version: str | None = Field(default=None, alias="fluxVersion")
    # image references must start with one of these (empty: any registry)
    allowed_registries: tuple[str, ...] = Field(default=(), alias="allowedRegistries")
    # Git/OCI/Helm source URLs must start with one of these (empty: any)
    allowed_sources: tuple[str, ...] = Field(default=(), alias="allowedSources")
    # environments where images must be pinned by digest
    require_digests: tuple[str, ...] = Field(default=(), alias="requireDigests")
    allowed_capabilities: tuple[str, ...] = Field(default=("NET_BIND_SERVICE",), alias="allowedCapabilities")
    allowed_service_types: tuple[str, ...] = Field(default=("ClusterIP",), alias="allowedServiceTypes")
    # None: read --no-cross-namespace-refs from the cluster's rendered kustomize-controller
    no_cross_namespace_refs: bool | None = Field(default=None, alias="noCrossNamespaceRefs")
    # namespaces treated as tenant namespaces besides those labelled toolkit.fluxcd.io/tenant
    tenant_namespaces: tuple[str, ...] = Field(default=(), alias="tenantNamespaces")

    @field_validator("flux_version")
    @classmethod
    def _flux_version(cls, v: str | None) -> str | None:
        if v is not None and (err := flux_version_error(v)):
            raise ValueError(err)
        return v


def parse_policy(data: Any, file: str) -> PolicyConfig:
    """Validate a policy mapping; every problem becomes a FleetError naming the field."""
    if data is None:
        return PolicyConfig()
    if not isinstance(data, dict):
        raise FleetError("the policy must be a mapping", file=file)
    try:
        return PolicyConfig.model_validate(data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            message = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = f"unknown key `{err['loc'][-1]}`"
            errors.append(FleetError(message, file=file, field=loc))
        raise (errors[0] if len(errors) == 1 else FleetErrors(errors)) from None


def load_policy_file(repo: Path) -> PolicyConfig | None:
    """``.fluxfleet/policy.yaml`` of a repository without fleet.yaml; None when it is absent."""
    path = repo / POLICY_FILE
    if not path.is_file():
        return None
    docs = yamlio.load_file(path, display=POLICY_FILE)
    if len(docs) > 1:
        raise FleetError("expected one YAML document", file=POLICY_FILE)
    return parse_policy(docs[0] if docs else None, POLICY_FILE)
