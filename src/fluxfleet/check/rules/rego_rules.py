"""Rules backed by user Rego: conftest-style policy folders and Gatekeeper constraints."""

from __future__ import annotations

from collections.abc import Iterator

from fluxfleet import bounded
from fluxfleet.check import gatekeeper, vap
from fluxfleet.check.context import ClusterContext
from fluxfleet.check.model import Severity, Violation
from fluxfleet.check.podspec import WORKLOAD_KINDS, synthesise_pod
from fluxfleet.check.registry import cluster_rule

_LEVEL = {"deny": Severity.high, "warn": Severity.low, "dryrun": Severity.info}
_VAP_LEVEL = {"Deny": Severity.high, "Warn": Severity.low, "Audit": Severity.info}


@cluster_rule(
    "rego-policy",
    Severity.high,
    hint="fix the object as the policy message says (or add an exception in the policy's `exception` rule)",
    doc="a conftest-style Rego policy (deny/violation = high, warn = low) reports the object",
    category="rego",
)
def rego_policy(ctx: ClusterContext) -> Iterator[Violation]:
    rego = ctx.options.rego
    if rego is None or rego.conftest is None:
        return
    for obj in ctx.objects:
        for rule, level, msg in rego.conftest.evaluate(obj.body):
            yield Violation(f"{rule}: {msg}", obj, severity=_LEVEL[level])
        if obj.key.kind in WORKLOAD_KINDS and obj.key.kind != "Pod":
            pod = synthesise_pod(obj.body)
            if pod is not None:
                for rule, level, msg in rego.conftest.evaluate(pod):
                    yield Violation(
                        f"{rule}: [Pod from {obj.key.kind} {obj.key.name}] {msg}", obj, severity=_LEVEL[level]
                    )


@cluster_rule(
    "gatekeeper-constraint",
    Severity.high,
    hint="fix the object as the constraint message says, or narrow the Constraint's spec.match",
    doc="a Gatekeeper Constraint rendered into the cluster rejects the object (deny = high, warn = low, dryrun = info)",
    category="rego",
)
def gatekeeper_constraint(ctx: ClusterContext) -> Iterator[Violation]:
    for r in gatekeeper.results(ctx):
        if r.action != "error":
            yield Violation(r.message, r.obj, severity=_LEVEL.get(r.action, Severity.high))


@cluster_rule(
    "gatekeeper-not-evaluated",
    Severity.high,
    hint="fix what the message names (template compile error, constraint parameters, missing template); "
    "`fluxfleet policy test` runs the template's suite.yaml",
    doc="a ConstraintTemplate, Constraint or mutator could not be evaluated offline; the message says why",
    category="rego",
)
def gatekeeper_not_evaluated(ctx: ClusterContext) -> Iterator[Violation]:
    for r in gatekeeper.results(ctx):
        if r.action == "error":
            yield Violation(r.message, r.obj)
    for v in _vap_results(ctx):
        if v.action == "error":
            yield Violation(f"not evaluated: {v.message}", v.obj)


def _vap_results(ctx: ClusterContext) -> list[vap.VapResult]:
    cached: list[vap.VapResult] | None = ctx.cache.get("vap")
    if cached is None:
        cached = ctx.cache["vap"] = _bounded_vap_results(ctx)
    return cached


def _bounded_vap_results(ctx: ClusterContext) -> list[vap.VapResult]:
    """The policies come from the repository: runaway CEL is stopped (see fluxfleet.bounded)."""
    extra = ctx.options.rego.gatekeeper if ctx.options.rego is not None else ()
    policies = [
        o for o in (*ctx.objects, *extra) if o.key.group == vap.GROUP and o.key.kind in vap.POLICY_KINDS
    ]
    if not any(o.key.kind == vap.POLICY_KINDS[1] for o in policies):
        return []
    try:
        return bounded.call(lambda: list(vap.results(ctx, gatekeeper.namespace_lookup(ctx))))
    except bounded.LimitExceeded as exc:
        return [vap.VapResult(policies[0], f"the admission policies were stopped: {exc}", "error")]


@cluster_rule(
    "admission-policy",
    Severity.high,
    hint="fix the object as the policy message says, or narrow the binding's matchResources",
    doc="a ValidatingAdmissionPolicy + binding rendered into the cluster rejects the object "
    "(validationActions Deny = high, Warn = low, Audit = info)",
    category="rego",
)
def admission_policy(ctx: ClusterContext) -> Iterator[Violation]:
    for v in _vap_results(ctx):
        if v.action != "error":
            yield Violation(v.message, v.obj, severity=_VAP_LEVEL.get(v.action, Severity.high))
