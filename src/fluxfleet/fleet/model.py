"""The fleet definition (``fleet.yaml``), as pydantic models.

Field names are Python snake_case with the camelCase spelling of Kubernetes as alias, so users
write ``dependsOn`` and ``matchLabels`` as in any Flux manifest.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from fluxfleet.fleet.automation import ImageAutomation
from fluxfleet.fleet.base import Duration, ImageRef, ImageTag, Name, Strict
from fluxfleet.fleet.names import label_key_error, label_value_error, var_name_error
from fluxfleet.fleet.policy import PolicyConfig
from fluxfleet.fleet.promotion import Freeze, Promotion
from fluxfleet.fleet.scanpolicy import ScanPolicy
from fluxfleet.fleet.sealing import SealingCertificate
from fluxfleet.fleet.selectors import LabelSelector
from fluxfleet.fleet.service import ServiceConfig
from fluxfleet.fleet.tenancy import SecretsConfig, Team
from fluxfleet.fleet.wiring import AlertsConfig, FluxConfig, HealthCheck

API_VERSION = "fluxfleet.dev/v1alpha1"
REQUIRED_LABELS = ("environment", "region")


class GitSource(Strict):
    """The one GitRepository every cluster syncs (``flux-system``)."""

    url: str
    branch: str = "main"
    secret_ref: str | None = Field(default="flux-system", alias="secretRef")
    interval: Duration = "1m"

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("ssh://", "https://", "http://")):
            raise ValueError("url must start with ssh://, https:// or http:// (as Flux requires)")
        return v


class Environment(Strict):
    name: Name
    interval: Duration = "10m"
    prune: bool = True
    timeout: Duration | None = None
    promotion: Promotion = Field(default_factory=Promotion)
    alerts: AlertsConfig | None = None  # overrides spec.alerts for this environment's clusters
    scan: ScanPolicy = Field(default_factory=ScanPolicy)
    # Sealed Secrets controller's public certificate (PEM, from `kubeseal --fetch-cert`)
    sealing_certificate: SealingCertificate | None = Field(default=None, alias="sealingCertificate")


class Cluster(Strict):
    name: Name
    labels: dict[str, str]
    vars: dict[str, str] = Field(default_factory=dict)
    path: str | None = None
    # overrides the environment's when this cluster runs its own Sealed Secrets controller key
    sealing_certificate: SealingCertificate | None = Field(default=None, alias="sealingCertificate")

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            err = label_key_error(key) or label_value_error(str(value))
            if err:
                raise ValueError(err)
        missing = [k for k in REQUIRED_LABELS if k not in v]
        if missing:
            raise ValueError(f"labels {', '.join(missing)} are required on every cluster")
        return v

    @field_validator("vars")
    @classmethod
    def _vars(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            err = var_name_error(key)
            if err:
                raise ValueError(err)
        return v

    @property
    def environment(self) -> str:
        return self.labels["environment"]

    @property
    def region(self) -> str:
        return self.labels["region"]


class HelmChart(Strict):
    repository: str
    name: str
    version: str

    @field_validator("version")
    @classmethod
    def _pinned(cls, v: str) -> str:
        if any(c in v for c in "*^~><=x|, ") or not v:
            raise ValueError(f"chart version {v!r} must be pinned to one exact version")
        return v


class Component(Strict):
    """A platform component (ingress-nginx, monitoring, ...), reconciled before apps."""

    name: Name
    path: str | None = None
    namespace: Name
    chart: HelmChart | None = None
    depends_on: tuple[str, ...] = Field(default=(), alias="dependsOn")
    placement: LabelSelector = Field(default_factory=LabelSelector)
    interval: Duration | None = None
    wait: bool = True

    @property
    def repo_path(self) -> str:
        return (self.path or f"platform/{self.name}").removeprefix("./").rstrip("/")


class App(Strict):
    name: Name
    path: str | None = None
    namespace: Name
    team: Name | None = None
    images: tuple[ImageRef, ...] = ()
    port: int = Field(default=8080, ge=1, le=65535)
    depends_on: tuple[str, ...] = Field(default=(), alias="dependsOn")
    placement: LabelSelector = Field(default_factory=LabelSelector)
    versions: dict[str, ImageTag] = Field(default_factory=dict)
    pins: dict[str, ImageTag] = Field(default_factory=dict)
    interval: Duration | None = None
    # Health: an app's Kustomization is Ready (and its dependents start) only once its workloads
    # are; explicit healthChecks replace `wait` when given.
    wait: bool = True
    timeout: Duration | None = None
    health_checks: tuple[HealthCheck, ...] = Field(default=(), alias="healthChecks")
    automation: ImageAutomation | None = None

    @property
    def repo_path(self) -> str:
        return (self.path or f"apps/{self.name}").removeprefix("./").rstrip("/")

    @property
    def image(self) -> str | None:
        return self.images[0] if self.images else None


class Metadata(Strict):
    name: Name


class FleetSpec(Strict):
    source: GitSource
    environments: tuple[Environment, ...]
    clusters: tuple[Cluster, ...] = ()
    platform: tuple[Component, ...] = ()
    apps: tuple[App, ...] = ()
    teams: tuple[Team, ...] = ()
    # "stop the line": freezes that hold promotions in every environment
    freezes: tuple[Freeze, ...] = ()
    sources: dict[str, str] = Field(default_factory=dict)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    secrets: SecretsConfig = Field(default_factory=SecretsConfig)
    flux: FluxConfig = Field(default_factory=FluxConfig)
    alerts: AlertsConfig | None = None
    service: ServiceConfig | None = None


class FleetDocument(Strict):
    api_version: Literal["fluxfleet.dev/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["Fleet"]
    metadata: Metadata
    spec: FleetSpec


class FleetFragmentSpec(Strict):
    """What a ``fleet.d/*.yaml`` document may add: more clusters, components, apps and teams."""

    clusters: tuple[Cluster, ...] = ()
    platform: tuple[Component, ...] = ()
    apps: tuple[App, ...] = ()
    teams: tuple[Team, ...] = ()


class FleetFragment(Strict):
    api_version: Literal["fluxfleet.dev/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["Fleet"]
    spec: FleetFragmentSpec
