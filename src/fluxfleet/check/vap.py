"""Kubernetes ValidatingAdmissionPolicy + ValidatingAdmissionPolicyBinding found in a render.

Each rendered object is reviewed as a ``CREATE``: the policy's ``matchConstraints`` and the
binding's ``matchResources`` must both select it (resource rules use plurals: from the render's
CRDs, else the Kubernetes pluralisation of the kind); ``paramRef`` is resolved against the render;
then the CEL validations run (``celeval``). ``validationActions`` decide what a failure means:
``Deny`` rejects, ``Warn`` warns, ``Audit`` only records. Semantics: kubernetes/apiserver
pkg/admission/plugin/policy (validating/dispatcher.go, matching/matching.go, generic/policy_dispatcher.go).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fluxfleet.check import celeval, gkmatch
from fluxfleet.check.context import ClusterContext
from fluxfleet.check.gkmatch import seq
from fluxfleet.objects import K8sObject

GROUP = "admissionregistration.k8s.io"
POLICY_KINDS = ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
# Kinds whose resource name is not the regular plural.
_IRREGULAR = {"Endpoints": "endpoints", "PodSecurityPolicy": "podsecuritypolicies"}


@dataclass(frozen=True)
class VapResult:
    obj: K8sObject
    message: str
    action: str  # Deny | Warn | Audit | "error" (not evaluated)


def plural(kind: str) -> str:
    if kind in _IRREGULAR:
        return _IRREGULAR[kind]
    low = kind.lower()
    if low.endswith(("s", "x", "z", "ch", "sh")):
        return low + "es"
    if low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        return low[:-1] + "ies"
    return low + "s"


def _m(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _rule_matches(
    rule: dict[str, Any], group: str, version: str, resource: str, namespaced: bool, name: str
) -> bool:
    def has(values: Any, value: str) -> bool:
        items = values if isinstance(values, list) else []
        return "*" in items or value in items

    if not (has(rule.get("apiGroups"), group) and has(rule.get("apiVersions"), version)):
        return False
    if not has(rule.get("resources"), resource):
        return False
    ops = seq(rule.get("operations"))
    if not ("*" in ops or "CREATE" in ops):
        return False
    scope = rule.get("scope") or "*"
    if (scope == "Cluster" and namespaced) or (scope == "Namespaced" and not namespaced):
        return False
    names = seq(rule.get("resourceNames"))
    return not names or name in names


def _resources_match(
    match: Any,
    obj: K8sObject,
    resource: str,
    namespaced: bool,
    lookup: gkmatch.NamespaceLookup,
    empty_rules_match_all: bool,
) -> bool:
    """A ``MatchResources`` (policy matchConstraints or binding matchResources) against the object."""
    if match is None:
        return True
    match = _m(match)
    k = obj.key
    rules = [r for r in seq(match.get("resourceRules")) if isinstance(r, dict)]
    selected = any(_rule_matches(r, k.group, k.version, resource, namespaced, k.name) for r in rules)
    if (rules or not empty_rules_match_all) and not selected:
        return False
    for r in seq(match.get("excludeResourceRules")):
        if isinstance(r, dict) and _rule_matches(r, k.group, k.version, resource, namespaced, k.name):
            return False
    labels = _m(obj.body.get("metadata")).get("labels") or {}
    if "objectSelector" in match and not gkmatch.labels_match(match["objectSelector"], labels):
        return False
    if "namespaceSelector" in match:
        # A Namespace is selected by its own labels; other cluster-scoped objects always pass.
        if (k.group, k.kind) == ("", "Namespace"):
            ns_labels: Any = labels
        elif namespaced:
            ns_labels = _m(_m(lookup(k.namespace)).get("metadata")).get("labels") or {}
        else:
            ns_labels = None
        if ns_labels is not None and not gkmatch.labels_match(match["namespaceSelector"], ns_labels):
            return False
    return True


def _params(
    ctx: ClusterContext, policy: dict[str, Any], binding: dict[str, Any], obj: K8sObject
) -> tuple[list[Any], str]:
    """Param objects for one evaluation ([None] when the policy takes none) and an error if any."""
    kind = _m(policy.get("spec")).get("paramKind")
    ref = _m(binding.get("spec")).get("paramRef")
    if not isinstance(kind, dict) or not isinstance(ref, dict):
        return [None], ""
    api, pkind = str(kind.get("apiVersion") or ""), str(kind.get("kind") or "")
    namespace = str(ref.get("namespace") or obj.key.namespace)
    found = [
        o.body
        for o in ctx.objects
        if o.key.api_version == api
        and o.key.kind == pkind
        and o.key.namespace in (namespace, "")
        and (
            o.key.name == ref.get("name")
            if ref.get("name")
            else gkmatch.labels_match(
                ref.get("selector") or {}, _m(o.body.get("metadata")).get("labels") or {}
            )
        )
    ]
    if found:
        return found, ""
    if ref.get("parameterNotFoundAction") == "Allow":
        return [], ""
    what = f"{pkind} {ref.get('name') or ref.get('selector')!s}" + (
        f" in namespace {namespace}" if namespace else ""
    )
    return [], f"no params found for binding: {what} is not in the render"


def results(ctx: ClusterContext, lookup: gkmatch.NamespaceLookup) -> Iterator[VapResult]:
    extra = ctx.options.rego.gatekeeper if ctx.options.rego is not None else ()
    rendered = {o.key for o in ctx.objects}
    policy_objects = [
        *ctx.objects,
        *(o for o in extra if o.key.group == GROUP and o.key.kind in POLICY_KINDS and o.key not in rendered),
    ]
    vaps = {o.key.name: o for o in policy_objects if o.key.kind == POLICY_KINDS[0] and o.key.group == GROUP}
    bindings = [o for o in policy_objects if o.key.kind == POLICY_KINDS[1] and o.key.group == GROUP]
    if not bindings:
        return
    plurals = {
        gk: str(_m(_m(crd.get("spec")).get("names")).get("plural") or "") for gk, crd in ctx.crds.items()
    }
    subjects = [o for o in ctx.objects if not (o.key.group == GROUP and o.key.kind in POLICY_KINDS)]
    for b in bindings:
        bspec = _m(b.body.get("spec"))
        name = str(bspec.get("policyName") or "")
        policy_obj = vaps.get(name)
        if policy_obj is None:
            yield VapResult(
                b, f"binding {b.key.name}: no ValidatingAdmissionPolicy {name!r} in the render", "error"
            )
            continue
        pspec = _m(policy_obj.body.get("spec"))
        actions = [str(a) for a in seq(bspec.get("validationActions"))]
        if not actions:
            yield VapResult(b, f"binding {b.key.name}: spec.validationActions is empty", "error")
            continue
        cel = celeval.parse_policy(pspec)
        header = f"ValidatingAdmissionPolicy '{name}' with binding '{b.key.name}'"
        for obj in subjects:
            k = obj.key
            namespaced = ctx.is_namespaced(obj) is not False and bool(k.namespace)
            resource = plurals.get((k.group, k.kind)) or plural(k.kind)
            if not _resources_match(pspec.get("matchConstraints"), obj, resource, namespaced, lookup, False):
                continue
            if not _resources_match(bspec.get("matchResources"), obj, resource, namespaced, lookup, True):
                continue
            params, error = _params(ctx, policy_obj.body, b.body, obj)
            messages = [error] if error and cel.fail_on_error else []
            ns_obj = lookup(k.namespace) if namespaced else None
            request = {
                "kind": {"group": k.group, "version": k.version, "kind": k.kind},
                "resource": {"group": k.group, "version": k.version, "resource": resource},
                "name": k.name,
                "namespace": k.namespace if namespaced else "",
                "operation": "CREATE",
                "userInfo": {"username": "fluxfleet", "groups": ["system:authenticated"]},
                "dryRun": False,
            }
            for p in params:
                base = {
                    "object": obj.body,
                    "oldObject": None,
                    "request": request,
                    "params": p,
                    "namespaceObject": ns_obj,
                }
                outcome = celeval.run(cel, base, {})
                if outcome.applicable:
                    messages.extend(outcome.messages)
            for msg in messages:
                for action in actions:
                    verb = "denied request" if action == "Deny" else "failed"
                    yield VapResult(obj, f"{header} {verb}: {msg}", action)
