"""Run every enabled rule over rendered clusters and return findings (pure: renders in, findings out).

Object rules are dispatched by kind so each object meets only the rules that concern it. Render
errors become ``render-error`` findings; exception annotations are applied last.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable

from fluxfleet.check import exceptions as exc_mod
from fluxfleet.check.config import RuleSetting, setting, validate_rule_ids
from fluxfleet.check.context import CheckOptions, ClusterContext
from fluxfleet.check.model import CheckResult, CheckStats, Finding, Rule, Severity, Violation
from fluxfleet.check.registry import all_rules
from fluxfleet.errors import did_you_mean
from fluxfleet.render.model import ClusterRender


def _finding(rule: Rule, st: RuleSetting, cluster: str, v: Violation) -> Finding:
    obj = v.obj
    severity = st.severity if st.explicit_severity or v.severity is None else v.severity
    return Finding(
        rule=rule.id,
        severity=severity,
        cluster=cluster,
        message=v.message,
        hint=rule.hint,
        object=obj.key if obj is not None else None,
        file=v.file or (obj.source.file if obj is not None else None),
        line=v.line or (obj.source.line if obj is not None and not v.file else None),
        kustomization=v.kustomization or (obj.source.kustomization if obj is not None else None),
    )


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)


def _check_cluster(
    ctx: ClusterContext, rules: list[Rule], timer: _Timer, rules_by_id: dict[str, Rule]
) -> list[Finding]:
    env = ctx.environment
    selected = {r.id for r in rules}
    settings = {}
    for r in rules_by_id.values():
        st = setting(r, ctx.policy, env)
        settings[r.id] = st if r.id in selected else RuleSetting(False, st.severity, st.explicit_severity)
    active = [r for r in rules if settings[r.id].enabled]
    by_kind: dict[str, list[Rule]] = defaultdict(list)
    generic: list[Rule] = []
    for r in active:
        if r.object_check is None:
            continue
        if r.kinds is None:
            generic.append(r)
        else:
            for k in r.kinds:
                by_kind[k].append(r)
    out: list[Finding] = []
    clock = time.perf_counter
    seconds = timer.seconds
    for obj in ctx.objects:
        for r in (*generic, *by_kind.get(obj.key.kind, ())):
            start = clock()
            assert r.object_check is not None
            for v in r.object_check(obj, ctx):
                out.append(_finding(r, settings[r.id], ctx.cluster, v))
            seconds[r.id] += clock() - start
    for r in active:
        if r.cluster_check is None:
            continue
        start = clock()
        for v in r.cluster_check(ctx):
            out.append(_finding(r, settings[r.id], ctx.cluster, v))
        seconds[r.id] += clock() - start
    err_rule = rules_by_id.get("render-error")
    if err_rule is not None and settings[err_rule.id].enabled:
        for e in ctx.render.errors:
            v = Violation(e.message, file=e.file, line=e.line, kustomization=e.kustomization)
            out.append(_finding(err_rule, settings[err_rule.id], ctx.cluster, v))
    return _apply_exceptions(ctx, out, settings, rules_by_id)


def _apply_exceptions(
    ctx: ClusterContext, findings: list[Finding], settings: dict[str, RuleSetting], rules: dict[str, Rule]
) -> list[Finding]:
    """Mark excused findings as suppressed and report expired, malformed and unused exceptions."""
    today = ctx.options.today
    excused: dict[tuple[object, str], exc_mod.RuleException] = {}
    meta: list[Finding] = []

    def meta_finding(rule_id: str, obj_key: object, obj_src: object, message: str) -> None:
        rule = rules.get(rule_id)
        if rule is None or not settings[rule_id].enabled:
            return
        from fluxfleet.objects import K8sObject

        assert isinstance(obj_src, K8sObject)
        meta.append(_finding(rule, settings[rule_id], ctx.cluster, Violation(message, obj=obj_src)))

    fired = {(f.object, f.rule) for f in findings if f.object is not None}
    for obj in ctx.objects:
        for ex in exc_mod.exceptions_of(obj.body):
            if ex.problem is not None:
                meta_finding("exception-invalid", obj.key, obj, f"annotation {ex.annotation}: {ex.problem}")
                continue
            if ex.rule not in rules:
                hint = did_you_mean(ex.rule, set(rules))
                msg = f"annotation {ex.annotation} names no known rule" + (f" ({hint})" if hint else "")
                meta_finding("exception-invalid", obj.key, obj, msg)
                continue
            if not ex.active(today):
                meta_finding(
                    "exception-expired",
                    obj.key,
                    obj,
                    f"exception for {ex.rule} expired on {ex.expires} (reason was: {ex.reason})",
                )
                continue
            excused[(obj.key, ex.rule)] = ex
            if (obj.key, ex.rule) not in fired and settings.get(
                ex.rule, RuleSetting(False, Severity.info, False)
            ).enabled:
                meta_finding(
                    "exception-unused", obj.key, obj, f"exception for {ex.rule} excuses nothing here"
                )
    out: list[Finding] = []
    for f in findings:
        found = excused.get((f.object, f.rule)) if f.object is not None else None
        if found is not None:
            until = f" (until {found.expires})" if found.expires else ""
            out.append(_replace_suppressed(f, found.reason + until))
        else:
            out.append(f)
    return out + meta


def _replace_suppressed(f: Finding, reason: str) -> Finding:
    from dataclasses import replace

    return replace(f, suppressed=reason)


def run_checks(
    renders: Iterable[ClusterRender],
    options: CheckOptions | None = None,
    *,
    only: Iterable[str] | None = None,
) -> CheckResult:
    """Check every cluster; ``only`` restricts the run to some rule ids."""
    options = options or CheckOptions()
    rules = all_rules()
    validate_rule_ids(options.policy, rules)
    rules_by_id = {r.id: r for r in rules}
    if only is not None:
        wanted = set(only)
        unknown = sorted(wanted - set(rules_by_id))
        if unknown:
            from fluxfleet.errors import FleetError

            raise FleetError(
                f"unknown check rule {unknown[0]!r}",
                hint=did_you_mean(unknown[0], set(rules_by_id))
                or "`fluxfleet check --list-rules` lists them",
            )
        rules = [r for r in rules if r.id in wanted]
    if options.schemas is None:
        from fluxfleet.check.schemas import SchemaStore

        options.schemas = SchemaStore(options.kubernetes_version or options.policy.kubernetes_version)
    stats = CheckStats()
    timer = _Timer()
    started = time.perf_counter()
    findings: list[Finding] = []
    clusters: dict[str, str] = {}
    environments: dict[str, str] = {}
    for render in renders:
        ctx = ClusterContext(render, options)
        clusters[render.cluster] = render.path
        if ctx.environment:
            environments[render.cluster] = ctx.environment
        stats.clusters += 1
        stats.objects += len(ctx.objects)
        findings.extend(_check_cluster(ctx, rules, timer, rules_by_id))
    stats.total_seconds = time.perf_counter() - started
    stats.schema_seconds = sum(
        timer.seconds.get(r, 0.0) for r in ("schema", "schema-unknown", "flux-structure")
    )
    stats.rule_seconds = dict(timer.seconds)
    unique = sorted(set(findings), key=Finding.sort_key)
    return CheckResult(
        findings=[f for f in unique if f.suppressed is None],
        suppressed=[f for f in unique if f.suppressed is not None],
        rules=rules,
        stats=stats,
        clusters=clusters,
        environments=environments,
    )
