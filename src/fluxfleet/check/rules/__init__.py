"""Built-in rules. Each module registers its rules on import; add a module with one import line."""

import fluxfleet.check.rules.deprecations
import fluxfleet.check.rules.flux_refs
import fluxfleet.check.rules.flux_tenancy
import fluxfleet.check.rules.image_automation
import fluxfleet.check.rules.meta
import fluxfleet.check.rules.reconcile
import fluxfleet.check.rules.rego_rules
import fluxfleet.check.rules.schema
import fluxfleet.check.rules.secrets
import fluxfleet.check.rules.secrets_sops
import fluxfleet.check.rules.tenancy
import fluxfleet.check.rules.workload  # noqa: F401
