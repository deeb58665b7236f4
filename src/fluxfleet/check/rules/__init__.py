"""Built-in rules. Each module registers its rules on import; add a module by adding one import."""

from fluxfleet.check.rules import (  # noqa: F401  (imported for registration)
    deprecations,
    flux_refs,
    flux_tenancy,
    meta,
    rego_rules,
    schema,
    secrets,
    tenancy,
    workload,
)
