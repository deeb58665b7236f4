"""Effective rule settings: the registry's defaults overlaid with the fleet's policy section.

Precedence (most specific wins): ``rules.<id>.environments.<env>`` (a severity, or ``off``), then
``rules.<id>.enabled`` / ``rules.<id>.severity``, then the rule's default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fluxfleet.check.model import Rule, Severity
from fluxfleet.errors import FleetError, FleetErrors, did_you_mean
from fluxfleet.fleet.policy import PolicyConfig


@dataclass(frozen=True)
class RuleSetting:
    enabled: bool
    severity: Severity
    explicit_severity: bool  # the policy set it, so it also overrides a violation's own severity


def validate_rule_ids(
    policy: PolicyConfig,
    rules: list[Rule],
    *,
    file: str | None = None,
    locate: Callable[[str, str, str | None], FleetError] | None = None,
) -> None:
    """Every rule id the policy names must exist. ``locate(rule_id, message, hint)`` builds an
    error pointing at the key in the user's file, when the caller knows where it was written."""
    known = {r.id for r in rules}
    errors = []
    for rid in policy.rules:
        if rid in known:
            continue
        message = f"unknown check rule {rid!r}"
        hint = did_you_mean(rid, known) or "`fluxfleet check --list-rules` lists them"
        errors.append(
            locate(rid, message, hint)
            if locate
            else FleetError(message, file=file, field=f"policy.rules.{rid}", hint=hint)
        )
    if errors:
        raise errors[0] if len(errors) == 1 else FleetErrors(errors)


def setting(rule: Rule, policy: PolicyConfig, environment: str | None) -> RuleSetting:
    override = policy.rules.get(rule.id)
    if override is None:
        return RuleSetting(True, rule.severity, False)
    enabled = override.enabled if override.enabled is not None else True
    severity = Severity(override.severity) if override.severity else rule.severity
    explicit = override.severity is not None
    if environment is not None and environment in override.environments:
        env_value = override.environments[environment]
        if env_value == "off":
            return RuleSetting(False, severity, explicit)
        return RuleSetting(True, Severity(env_value), True)
    return RuleSetting(enabled, severity, explicit)
