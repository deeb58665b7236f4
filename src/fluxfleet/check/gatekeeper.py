"""Gatekeeper policies of a cluster's render (plus policy folders), evaluated as admission would.

Templates and Constraints come from the render (a Gatekeeper policy Flux deploys applies to that
cluster) and from the folders named in ``policy.gatekeeper``. Each object is reviewed as a
``CREATE`` at enforcement point ``validation.gatekeeper.sh`` (or audit), after the cluster's
mutators (Assign, AssignMetadata, ModifySet) have run on it, as the admission chain would.
Gatekeeper ``Config`` exclusions apply. ``data.inventory`` is the whole render. Workloads are also
reviewed as the Pod their template would create. Whatever cannot be evaluated is reported,
always with why (rule ``gatekeeper-not-evaluated``, high).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fluxfleet import bounded
from fluxfleet.check import gkclient, gkmatch, gkmutate
from fluxfleet.check.context import ClusterContext
from fluxfleet.check.podspec import WORKLOAD_KINDS, synthesise_pod
from fluxfleet.objects import K8sObject

TEMPLATE_GROUP = gkclient.TEMPLATE_GROUP
CONSTRAINT_GROUP = gkclient.CONSTRAINT_GROUP
CONFIG_GROUP = "config.gatekeeper.sh"
POLICY_GROUPS = (TEMPLATE_GROUP, CONSTRAINT_GROUP, CONFIG_GROUP, gkmutate.MUTATION_GROUP)
POINTS = ("validation.gatekeeper.sh", "audit.gatekeeper.sh")
USER = {"username": "fluxfleet", "groups": ["system:authenticated"]}
# Namespaces every cluster has, though no repository renders them.
BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass(frozen=True)
class GatekeeperResult:
    obj: K8sObject  # the object the violation is reported on (the parent for synthesised Pods)
    message: str
    action: str  # deny | warn | dryrun | "error" (not evaluated)


def results(ctx: ClusterContext) -> list[GatekeeperResult]:
    """Every Gatekeeper result of the cluster, computed once per cluster."""
    cached: list[GatekeeperResult] | None = ctx.cache.get("gatekeeper")
    if cached is None:
        cached = ctx.cache["gatekeeper"] = _bounded_evaluate(ctx)
    return cached


def _bounded_evaluate(ctx: ClusterContext) -> list[GatekeeperResult]:
    """The policies come from the repository: a runaway one is stopped, and says so."""
    policy_objects = _policy_objects(ctx)
    if not any(o.key.group == CONSTRAINT_GROUP for o in policy_objects):
        return []
    try:
        return bounded.call(lambda: list(_evaluate(ctx)))
    except bounded.LimitExceeded as exc:
        culprit = next((o for o in policy_objects if o.key.group == TEMPLATE_GROUP), policy_objects[0])
        return [
            GatekeeperResult(culprit, f"not evaluated: the Gatekeeper policies were stopped: {exc}", "error")
        ]


def _policy_objects(ctx: ClusterContext) -> list[K8sObject]:
    extra = ctx.options.rego.gatekeeper if ctx.options.rego is not None else ()
    rendered = [o for o in ctx.objects if o.key.group in POLICY_GROUPS]
    seen = {o.key for o in rendered}
    return rendered + [o for o in extra if o.key not in seen]


def _template(ctx: ClusterContext, obj: K8sObject) -> gkclient.Template:
    """Parsed (and Rego-compiled) once per run for identical templates across clusters."""
    memo: dict[str, gkclient.Template | gkclient.TemplateError] = ctx.options.cache.setdefault(
        "gatekeeper-templates", {}
    )
    digest = hashlib.sha256(json.dumps(obj.body, sort_keys=True, default=str).encode()).hexdigest()
    if digest not in memo:
        try:
            t = gkclient.parse_template(obj.body)
            if t.rego is not None:
                t.compiled()
            memo[digest] = t
        except gkclient.TemplateError as exc:
            memo[digest] = exc
    found = memo[digest]
    if isinstance(found, gkclient.TemplateError):
        raise found
    return found


def namespace_lookup(ctx: ClusterContext) -> gkmatch.NamespaceLookup:
    """Namespaces of the render (with the label Kubernetes adds to each) plus the built-in ones."""
    known: dict[str, dict[str, Any]] = {}
    for name in BUILTIN_NAMESPACES:
        known[name] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    for name, obj in ctx.namespaces.items():
        known[name] = obj.body
    out: dict[str, dict[str, Any]] = {}
    for name, body in known.items():
        meta = dict(body.get("metadata") or {})
        meta["labels"] = {**(meta.get("labels") or {}), "kubernetes.io/metadata.name": name}
        out[name] = {**body, "metadata": meta}
    return out.get


def _evaluate(ctx: ClusterContext) -> Iterator[GatekeeperResult]:
    policy_objects = _policy_objects(ctx)
    if not any(o.key.group == CONSTRAINT_GROUP for o in policy_objects):
        return
    templates: dict[str, gkclient.Template] = {}
    broken: set[str] = set()  # kinds whose template is already reported
    for o in policy_objects:
        if o.key.group == TEMPLATE_GROUP and o.key.kind == "ConstraintTemplate":
            try:
                t = _template(ctx, o)
            except gkclient.TemplateError as exc:
                yield GatekeeperResult(o, f"not evaluated: {exc}", "error")
                broken.add(gkclient.template_kind(o.body))
                continue
            templates[t.kind] = t
    constraints: list[gkclient.Constraint] = []
    for o in policy_objects:
        if o.key.group != CONSTRAINT_GROUP or o.key.kind in broken:
            continue
        try:
            constraints.append(gkclient.parse_constraint(o.body, templates))
        except gkclient.ConstraintError as exc:
            yield GatekeeperResult(o, f"not evaluated: {exc}", "error")
    if not constraints:
        return
    configs = [
        o.body
        for o in policy_objects
        if o.key.group == CONFIG_GROUP and o.key.kind == "Config" and o.key.name == "config"
    ]
    mutators: list[gkmutate.Mutator] = []
    for o in policy_objects:
        if o.key.group == gkmutate.MUTATION_GROUP:
            try:
                mutators.append(gkmutate.parse_mutator(o.body))
            except gkmutate.MutationError as exc:
                yield GatekeeperResult(o, f"mutation not applied: {exc}", "error")
    mutators.sort(key=lambda m: m.sort_key)
    subjects = [o for o in ctx.objects if o.key.group not in POLICY_GROUPS]
    engine: Any = ctx.options.rego.gatekeeper_engine if ctx.options.rego is not None else "auto"
    client = gkclient.Client(
        list(templates.values()), constraints, engine=engine, data=[_inventory_body(o) for o in subjects]
    )
    lookup = namespace_lookup(ctx)
    by_name = {(c.kind, c.name): c for c in constraints}
    for obj in subjects:
        if gkmatch.config_excluded(configs, _own_namespace(obj), ("webhook", "audit")):
            continue
        candidates: list[tuple[dict[str, Any], str]] = [(obj.body, "")]
        if obj.key.kind in WORKLOAD_KINDS and obj.key.kind != "Pod":
            pod = synthesise_pod(obj.body)
            if pod is not None:
                pod.setdefault("metadata", {}).setdefault("namespace", obj.key.namespace)
                candidates.append((pod, f"[Pod from {obj.key.kind} {obj.key.name}] "))
        for body, prefix in candidates:
            if mutators:
                try:
                    body = gkmutate.mutate(mutators, body, lookup, operation="CREATE")
                except gkmutate.MutationError as exc:
                    yield GatekeeperResult(obj, f"{prefix}mutation failed: {exc}", "error")
            ns = str((body.get("metadata") or {}).get("namespace") or "")
            review = gkclient.review_of(
                body,
                operation="CREATE",
                user=USER,
                namespace_object=lookup(ns) if ns and body.get("kind") != "Namespace" else None,
            )
            seen: set[tuple[str, str, str]] = set()
            for point in POINTS:
                for r in client.review(review, lookup, point=point):
                    key = (r.constraint.kind, r.constraint.name, r.message)
                    if key in seen:
                        continue
                    seen.add(key)
                    c = by_name[(r.constraint.kind, r.constraint.name)]
                    if r.unmatched:
                        # Offline, a Namespace missing from the render may still exist in the cluster.
                        message = f"{c.kind}/{c.name}: {prefix}not evaluated: {r.message}"
                        yield GatekeeperResult(obj, message, "error")
                        continue
                    yield GatekeeperResult(obj, f"{c.kind}/{c.name}: {prefix}{r.message}", r.action)


def _inventory_body(obj: K8sObject) -> dict[str, Any]:
    """Secrets enter ``data.inventory`` with their keys only, so no template can echo a value."""
    if (obj.key.group, obj.key.kind) != ("", "Secret"):
        return obj.body
    body = dict(obj.body)
    for field in ("data", "stringData"):
        if isinstance(body.get(field), dict):
            body[field] = dict.fromkeys(body[field], "<redacted>")
    return body


def _own_namespace(obj: K8sObject) -> str:
    return obj.key.name if (obj.key.group, obj.key.kind) == ("", "Namespace") else obj.key.namespace
