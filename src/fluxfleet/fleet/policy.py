"""The ``policy`` section of fleet.yaml: rule selection and severities for ``fluxfleet check``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fluxfleet.fleet.base import Strict

Severity = Literal["info", "low", "medium", "high", "critical"]


class RuleOverride(Strict):
    enabled: bool | None = None
    severity: Severity | None = None
    environments: dict[str, Severity | Literal["off"]] = Field(default_factory=dict)


class PolicyConfig(Strict):
    rules: dict[str, RuleOverride] = Field(default_factory=dict)
    rego: tuple[str, ...] = ()
    fail_on: Severity = Field(default="high", alias="failOn")
