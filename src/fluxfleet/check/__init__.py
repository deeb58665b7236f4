"""Rules over rendered clusters: schemas, deprecations, Flux references, security, tenancy, Rego.

Entry point: :func:`fluxfleet.check.engine.run_checks` (renders in, :class:`CheckResult` out).
"""
