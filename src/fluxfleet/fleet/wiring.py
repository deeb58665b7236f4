"""fleet.yaml sections that wire generated clusters to the outside: Flux's own components,
app health, and alerts.

- ``spec.flux.components`` records where each cluster's ``gotk-components.yaml`` comes from, so a
  later plain ``generate`` never swaps real controllers for the placeholder.
- ``spec.apps[].healthChecks`` / ``wait`` / ``timeout``: what an app's Kustomization waits for
  before the apps that depend on it start.
- ``spec.alerts`` (and ``spec.environments[].alerts``): a notification Provider + Alert per cluster.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from fluxfleet.errors import FleetError
from fluxfleet.fleet.base import Name, Strict
from fluxfleet.fsutil import check_relative

COMPONENTS_PLACEHOLDER = "placeholder"


class FluxComponents(Strict):
    """Exactly one of: ``file`` (a saved `flux install --export`, repository-relative),
    ``version`` (run the local `flux` binary, which must report that version), or
    ``placeholder: true`` (until `flux bootstrap` writes the real file on the cluster).
    """

    file: str | None = None
    version: str | None = None
    placeholder: bool = False

    @field_validator("file")
    @classmethod
    def _file(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                check_relative(v)
            except FleetError as exc:
                raise ValueError(exc.message) from None
        return v

    @model_validator(mode="after")
    def _one(self) -> FluxComponents:
        chosen = [n for n, v in (("file", self.file), ("version", self.version)) if v] + (
            ["placeholder"] if self.placeholder else []
        )
        if len(chosen) != 1:
            raise ValueError("set exactly one of file, version or placeholder: true")
        return self


class FluxConfig(Strict):
    components: FluxComponents | None = None


_API_VERSION = re.compile(r"^(?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?v[0-9]+[a-z0-9]*$")
_KIND = re.compile(r"^[A-Z][A-Za-z0-9]{0,62}$")
_OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


class HealthCheck(Strict):
    api_version: str = Field(alias="apiVersion")
    kind: str
    name: str
    namespace: Name | None = None

    @field_validator("api_version", "kind", "name")
    @classmethod
    def _shape(cls, v: str, info: ValidationInfo) -> str:
        pattern = {"api_version": _API_VERSION, "kind": _KIND, "name": _OBJECT_NAME}[str(info.field_name)]
        if not pattern.match(v):
            raise ValueError(f"{v[:100]!r} is not a valid {info.field_name}")
        return v


ProviderType = Literal["slack", "msteams", "generic-hmac", "github"]


class AlertsConfig(Strict):
    """One notification Provider (+ its Alerts) per cluster.

    ``secretRef`` names a Secret the user creates on each cluster (or commits SOPS-encrypted):
    fluxfleet never holds the webhook URL or token. ``address`` is the channel/URL for types that
    take one in the Provider (github: the repository URL).
    """

    type: ProviderType
    secret_ref: Name = Field(alias="secretRef")
    address: str | None = None
    channel: str | None = None
    severity: Literal["info", "error"] = "info"
    enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _switched_off(cls, data: Any) -> Any:
        # `environments[].alerts: {enabled: false}` only switches the fleet's alerts off there; a
        # disabled config is never rendered (alerts_for drops it), so what it would send to is moot
        if isinstance(data, dict) and data.get("enabled") is False:
            return {"type": "generic-hmac", "secretRef": "disabled", **data}
        return data

    @field_validator("address", "channel")
    @classmethod
    def _one_line(cls, v: str | None, info: ValidationInfo) -> str | None:
        # the Provider CRD caps both at 2048; a control character would corrupt the generated YAML line
        if v is not None and (len(v) > 2048 or any(ord(c) < 32 or ord(c) == 127 for c in v)):
            raise ValueError(f"`{info.field_name}` must be one line of at most 2048 characters")
        if info.field_name == "address" and v is not None and not v.startswith(("https://", "http://")):
            raise ValueError(f"address {v[:100]!r} must be an http:// or https:// URL")
        return v

    @model_validator(mode="after")
    def _address(self) -> AlertsConfig:
        if self.type == "github" and not (self.address or "").startswith(("https://", "http://")):
            raise ValueError(
                "a github Provider needs `address`: the repository URL (https://github.com/org/repo)"
            )
        return self
