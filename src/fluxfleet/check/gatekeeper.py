"""Gatekeeper ConstraintTemplates + Constraints from a cluster's render, evaluated offline.

Feeds each template the admission review Gatekeeper would (policy-checks.md §3.3): the object
under ``input.review.object``, ``operation: CREATE``, the Constraint's validated parameters under
``input.parameters``, the cluster's objects under ``data.inventory``. ``spec.match`` is applied
outside Rego. Workloads are also evaluated as the Pod their template would create (§3.4).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from fluxfleet.check.context import ClusterContext
from fluxfleet.check.podspec import WORKLOAD_KINDS, mapping, synthesise_pod
from fluxfleet.check.rego import CompiledPolicy, Module, RegoModuleError, package_of, v0_constructs
from fluxfleet.check.schemas import openapi_to_jsonschema, validate
from fluxfleet.objects import K8sObject, ObjectKey

TEMPLATE_GROUP = "templates.gatekeeper.sh"
CONSTRAINT_GROUP = "constraints.gatekeeper.sh"
TARGET = "admission.k8s.gatekeeper.sh"
USER = {"username": "fluxfleet", "groups": ["system:authenticated"]}


@dataclass
class Template:
    obj: K8sObject
    kind: str
    package: str | None
    modules: list[Module]
    version: str  # "v0" or "v1"
    params_schema: dict[str, Any] | None
    problem: str | None = None


def _rego_source(tmpl: dict[str, Any]) -> tuple[str | None, list[str], str]:
    """``(rego, libs, version)`` of a template's admission target."""
    for target in (tmpl.get("spec") or {}).get("targets") or []:
        if not isinstance(target, dict) or target.get("target") != TARGET:
            continue
        for code in target.get("code") or []:
            if isinstance(code, dict) and code.get("engine") == "Rego":
                src = code.get("source") or {}
                return src.get("rego"), list(src.get("libs") or []), str(src.get("version") or "v0")
        if target.get("rego"):
            return target.get("rego"), list(target.get("libs") or []), "v0"
    return None, [], "v0"


def parse_template(obj: K8sObject) -> Template:
    body = obj.body
    crd = ((body.get("spec") or {}).get("crd") or {}).get("spec") or {}
    kind = str((crd.get("names") or {}).get("kind") or "")
    schema = (crd.get("validation") or {}).get("openAPIV3Schema")
    rego, libs, version = _rego_source(body)
    name = f"ConstraintTemplate/{obj.key.name}"
    modules = [Module(f"{name}/rego", rego or "")] + [
        Module(f"{name}/libs[{i}]", lib) for i, lib in enumerate(libs)
    ]
    t = Template(
        obj, kind, package_of(rego or ""), modules, version, schema if isinstance(schema, dict) else None
    )
    if not kind:
        t.problem = "spec.crd.spec.names.kind is missing"
    elif not rego:
        t.problem = (
            "no Rego source for target admission.k8s.gatekeeper.sh (CEL-only templates are not evaluated)"
        )
    elif t.package is None:
        t.problem = "the Rego source has no package"
    else:
        v0 = [(m.name, ln) for m in modules for ln in v0_constructs(m.source)]
        if v0:
            declared = "declares Rego v1 but " if version == "v1" else ""
            t.problem = (
                f"{declared}uses Rego v0 syntax ({v0[0][0]} line {v0[0][1]}); Gatekeeper runs templates as v0 "
                "unless code[].source.version is v1, and the embedded engine supports Rego v1 only"
            )
    return t


def _glob(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _labels_match(selector: Any, labels: dict[str, Any]) -> bool:
    if not isinstance(selector, dict):
        return True
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def matches(
    match: dict[str, Any], body: dict[str, Any], key: ObjectKey, ctx: ClusterContext, namespaced: bool | None
) -> bool:
    """Gatekeeper ``spec.match`` semantics for one object (a synthesised Pod included)."""
    kinds = match.get("kinds")
    if kinds:
        ok = False
        for entry in kinds:
            groups = entry.get("apiGroups") or ["*"]
            ks = entry.get("kinds") or ["*"]
            if ("*" in groups or key.group in groups) and ("*" in ks or key.kind in ks):
                ok = True
        if not ok:
            return False
    scope = match.get("scope", "*")
    if scope == "Cluster" and namespaced is not False:
        return False
    if scope == "Namespaced" and namespaced is False:
        return False
    ns = key.namespace
    if match.get("namespaces") and not any(_glob(p, ns) for p in match["namespaces"]):
        return False
    if ns and any(_glob(p, ns) for p in match.get("excludedNamespaces") or []):
        return False
    if match.get("name") and not _glob(str(match["name"]), key.name):
        return False
    labels = (body.get("metadata") or {}).get("labels") or {}
    if "labelSelector" in match and not _labels_match(match["labelSelector"], labels):
        return False
    if "namespaceSelector" in match:
        ns_obj = ctx.namespaces.get(ns)
        if ns_obj is None:
            return False  # the Namespace's labels are unknown offline
        ns_labels = (ns_obj.body.get("metadata") or {}).get("labels") or {}
        if not _labels_match(match["namespaceSelector"], ns_labels):
            return False
    return True


def inventory(ctx: ClusterContext) -> dict[str, Any]:
    namespaced: dict[str, Any] = {}
    cluster: dict[str, Any] = {}
    for o in ctx.objects:
        k = o.key
        if k.namespace:
            namespaced.setdefault(k.namespace, {}).setdefault(k.api_version, {}).setdefault(k.kind, {})[
                k.name
            ] = o.body
        else:
            cluster.setdefault(k.api_version, {}).setdefault(k.kind, {})[k.name] = o.body
    return {"inventory": {"namespace": namespaced, "cluster": cluster}}


@dataclass(frozen=True)
class GatekeeperResult:
    obj: K8sObject  # the object the violation is reported on (the parent for synthesised Pods)
    message: str
    action: str  # deny | warn | dryrun | "error" (not evaluated)


def _review(body: dict[str, Any], key: ObjectKey) -> dict[str, Any]:
    return {
        "object": body,
        "oldObject": None,
        "kind": {"group": key.group, "version": key.version, "kind": key.kind},
        "name": key.name,
        "namespace": key.namespace,
        "operation": "CREATE",
        "userInfo": USER,
    }


def results(ctx: ClusterContext) -> list[GatekeeperResult]:
    """Every Gatekeeper result of the cluster, computed once per cluster."""
    cached: list[GatekeeperResult] | None = ctx.cache.get("gatekeeper")
    if cached is None:
        cached = ctx.cache["gatekeeper"] = list(_evaluate(ctx))
    return cached


def _policy_objects(ctx: ClusterContext) -> list[K8sObject]:
    extra = ctx.options.rego.gatekeeper if ctx.options.rego is not None else ()
    rendered = [o for o in ctx.objects if o.key.group in (TEMPLATE_GROUP, CONSTRAINT_GROUP)]
    seen = {o.key for o in rendered}
    return rendered + [o for o in extra if o.key not in seen]


def _evaluate(ctx: ClusterContext) -> Iterator[GatekeeperResult]:
    policy_objects = _policy_objects(ctx)
    templates = [
        parse_template(o)
        for o in policy_objects
        if o.key.group == TEMPLATE_GROUP and o.key.kind == "ConstraintTemplate"
    ]
    by_kind = {t.kind: t for t in templates if t.kind}
    constraints = [o for o in policy_objects if o.key.group == CONSTRAINT_GROUP]
    for c in constraints:
        if c.key.kind not in by_kind:
            yield GatekeeperResult(
                c,
                f"Constraint {c.key.kind}/{c.key.name}: no ConstraintTemplate for it in this cluster's render",
                "error",
            )
    data: dict[str, Any] | None = None
    for t in templates:
        mine = [c for c in constraints if c.key.kind == t.kind]
        if not mine:
            continue
        if t.problem is not None:
            yield GatekeeperResult(
                t.obj, f"ConstraintTemplate {t.obj.key.name} not evaluated: {t.problem}", "error"
            )
            continue
        if data is None:
            data = inventory(ctx)
        try:
            policy = CompiledPolicy(t.modules, data)
        except RegoModuleError as exc:
            yield GatekeeperResult(
                t.obj, f"ConstraintTemplate {t.obj.key.name} not evaluated: {exc}", "error"
            )
            continue
        param_validator = None
        if t.params_schema:
            try:
                param_validator = jsonschema_rs.validator_for(openapi_to_jsonschema(t.params_schema))
            except (ValueError, jsonschema_rs.ValidationError):
                param_validator = None
        for c in mine:
            yield from _evaluate_constraint(ctx, t, c, policy, param_validator)


def _evaluate_constraint(
    ctx: ClusterContext, t: Template, c: K8sObject, policy: CompiledPolicy, param_validator: Any
) -> Iterator[GatekeeperResult]:
    spec = mapping(c.body.get("spec"))
    params = mapping(spec.get("parameters"))
    action = str(spec.get("enforcementAction") or "deny")
    name = f"{c.key.kind}/{c.key.name}"
    if param_validator is not None:
        errors = validate(param_validator, params)
        if errors:
            yield GatekeeperResult(c, f"Constraint {name}: parameters invalid: {errors[0]}", "error")
            return
    match = mapping(spec.get("match"))
    for obj in ctx.objects:
        if obj.key.group in (TEMPLATE_GROUP, CONSTRAINT_GROUP):
            continue
        candidates: list[tuple[dict[str, Any], ObjectKey, str]] = []
        if matches(match, obj.body, obj.key, ctx, ctx.is_namespaced(obj)):
            candidates.append((obj.body, obj.key, ""))
        if obj.key.kind in WORKLOAD_KINDS and obj.key.kind != "Pod":
            pod = synthesise_pod(obj.body)
            if pod is not None:
                pkey = ObjectKey("", "v1", "Pod", obj.key.namespace, obj.key.name)
                if matches(match, pod, pkey, ctx, True):
                    candidates.append((pod, pkey, f"[Pod from {obj.key.kind} {obj.key.name}] "))
        for body, key, prefix in candidates:
            try:
                result = policy.query(
                    f"data.{t.package}.violation", {"review": _review(body, key), "parameters": params}
                )
            except RegoModuleError as exc:
                yield GatekeeperResult(c, f"Constraint {name}: evaluation failed: {exc}", "error")
                return
            for v in result or []:
                msg = v.get("msg") if isinstance(v, dict) else v
                yield GatekeeperResult(obj, f"{name}: {prefix}{msg}", action)
