"""Tenant isolation rules: network default-deny, quotas, RBAC scope, and exposure of workloads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fluxfleet.check.context import ClusterContext
from fluxfleet.check.model import Severity, Violation
from fluxfleet.check.podspec import WORKLOAD_KINDS, containers, mapping, pod_spec
from fluxfleet.check.registry import cluster_rule, object_rule
from fluxfleet.check.rules.flux_tenancy import RBAC, tenant_reconcilers
from fluxfleet.objects import K8sObject

CAT = "tenancy"
ADMIN_ROLES = frozenset({"cluster-admin", "admin", "edit"})


def _is_default_deny(np: K8sObject) -> bool:
    spec = mapping(np.body.get("spec"))
    selector = spec.get("podSelector")
    if selector not in ({}, None) and selector != {"matchLabels": {}}:
        return False
    if selector is None:
        return False
    types = set(spec.get("policyTypes") or [])
    return {"Ingress", "Egress"} <= types and not spec.get("ingress") and not spec.get("egress")


def _is_allow_all(np: K8sObject) -> bool:
    spec = mapping(np.body.get("spec"))
    if spec.get("podSelector") not in ({}, {"matchLabels": {}}):
        return False
    return any(
        rule in ({}, {"from": []}, {"to": []})
        for rule in (spec.get("ingress") or []) + (spec.get("egress") or [])
    )


@cluster_rule(
    "tenant-default-deny-netpol",
    Severity.high,
    hint="add a NetworkPolicy with podSelector: {} and policyTypes [Ingress, Egress] to the tenant namespace",
    doc="each tenant namespace has a default-deny NetworkPolicy and no allow-all policy",
    category=CAT,
)
def tenant_default_deny_netpol(ctx: ClusterContext) -> Iterator[Violation]:
    policies: dict[str, list[K8sObject]] = {}
    for np in ctx.of_kind("NetworkPolicy", "networking.k8s.io"):
        policies.setdefault(np.key.namespace, []).append(np)
    for ns in sorted(ctx.tenant_namespaces):
        mine = policies.get(ns, [])
        anchor = ctx.namespaces.get(ns)
        if not any(_is_default_deny(p) for p in mine):
            yield Violation(f"tenant namespace {ns!r} has no default-deny NetworkPolicy", anchor)
        for p in mine:
            if _is_allow_all(p):
                yield Violation(f"NetworkPolicy {ns}/{p.key.name} allows all traffic", p)


@cluster_rule(
    "tenant-resource-quota",
    # High: without a quota one tenant can starve every other tenant of the cluster.
    Severity.high,
    hint="add a ResourceQuota (cpu/memory requests and limits) and a LimitRange with defaults",
    doc="each tenant namespace has a ResourceQuota and a LimitRange",
    category=CAT,
)
def tenant_resource_quota(ctx: ClusterContext) -> Iterator[Violation]:
    quotas = {o.key.namespace for o in ctx.of_kind("ResourceQuota", "")}
    ranges = {o.key.namespace for o in ctx.of_kind("LimitRange", "")}
    for ns in sorted(ctx.tenant_namespaces):
        missing = [
            k for k, have in (("ResourceQuota", ns in quotas), ("LimitRange", ns in ranges)) if not have
        ]
        if missing:
            yield Violation(
                f"tenant namespace {ns!r} has no {' and no '.join(missing)}", ctx.namespaces.get(ns)
            )


def tenant_subject(subject: dict[str, Any], binding_ns: str, ctx: ClusterContext) -> str | None:
    """A description of the subject when it belongs to a tenant, else None."""
    kind = subject.get("kind")
    name = str(subject.get("name") or "")
    if kind == "ServiceAccount":
        ns = str(subject.get("namespace") or binding_ns)
        if ctx.is_tenant_namespace(ns) or (ns, name) in tenant_reconcilers(ctx):
            return f"ServiceAccount {ns}/{name}"
    if kind == "User" and name.startswith("gotk:") and name.endswith(":reconciler"):
        ns = name.split(":")[1]
        if ctx.is_tenant_namespace(ns) or any(n == ns for n, _ in tenant_reconcilers(ctx)):
            return f"User {name}"
    if kind == "Group" and name.startswith("system:serviceaccounts:"):
        ns = name.removeprefix("system:serviceaccounts:")
        if ctx.is_tenant_namespace(ns):
            return f"Group {name}"
    return None


@object_rule(
    "no-cluster-admin-for-tenants",
    Severity.critical,
    hint="bind tenants with a RoleBinding in their namespace (Flux's tenant pattern), never a ClusterRoleBinding",
    doc="no ClusterRoleBinding grants cluster-admin/admin/edit to a tenant subject",
    category=CAT,
    kinds=("ClusterRoleBinding",),
)
def no_cluster_admin_for_tenants(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    role = mapping(obj.body.get("roleRef"))
    if role.get("kind") != "ClusterRole" or role.get("name") not in ADMIN_ROLES:
        return
    for s in obj.body.get("subjects") or []:
        if isinstance(s, dict):
            who = tenant_subject(s, "", ctx)
            if who:
                yield Violation(
                    f"ClusterRoleBinding {obj.key.name} grants {role.get('name')} to tenant {who}", obj
                )


def _rule_problems(rule: dict[str, Any]) -> list[str]:
    verbs = {str(v) for v in rule.get("verbs") or []}
    resources = {str(r) for r in rule.get("resources") or []}
    groups = {str(g) for g in rule.get("apiGroups") or []}
    out = []
    for name, values in (("verbs", verbs), ("resources", resources), ("apiGroups", groups)):
        if "*" in values:
            out.append(f"wildcard in {name}")
    core = not groups or "" in groups or "*" in groups
    if core and ({"secrets", "*"} & resources) and ({"get", "list", "watch", "*"} & verbs):
        out.append("reads secrets")
    if core and ({"pods/exec", "pods/attach", "*"} & resources) and ({"create", "get", "*"} & verbs):
        out.append("can exec/attach into pods")
    if core and ({"pods", "*"} & resources) and ({"create", "*"} & verbs):
        out.append("can create pods")
    risky = sorted({"escalate", "bind", "impersonate"} & verbs)
    if risky:
        out.append(f"verbs {', '.join(risky)}")
    return sorted(set(out))


@cluster_rule(
    "rbac-least-privilege",
    Severity.high,
    hint="list explicit verbs/resources; avoid secrets reads, pods/exec, pod creation, escalate/bind/impersonate",
    doc="Roles/ClusterRoles granted to tenants use no wildcards and no privilege-escalating permissions",
    category=CAT,
)
def rbac_least_privilege(ctx: ClusterContext) -> Iterator[Violation]:
    granted: dict[tuple[str, str, str], list[str]] = {}  # (kind, ns, name) of role -> tenant subjects
    for kind in ("RoleBinding", "ClusterRoleBinding"):
        for b in ctx.of_kind(kind, RBAC):
            role = mapping(b.body.get("roleRef"))
            role_kind = str(role.get("kind") or "")
            role_ns = b.key.namespace if role_kind == "Role" else ""
            for s in b.body.get("subjects") or []:
                who = tenant_subject(s, b.key.namespace, ctx) if isinstance(s, dict) else None
                if who:
                    granted.setdefault((role_kind, role_ns, str(role.get("name") or "")), []).append(who)
    for r in ctx.of_kind("Role", RBAC):
        if ctx.is_tenant_namespace(r.key.namespace):
            granted.setdefault(("Role", r.key.namespace, r.key.name), [])
    for (role_kind, ns, name), grantees in sorted(granted.items()):
        for role_obj in ctx.find(RBAC, role_kind, ns, name):
            problems = sorted(
                {
                    p
                    for rule in role_obj.body.get("rules") or []
                    if isinstance(rule, dict)
                    for p in _rule_problems(rule)
                }
            )
            if problems:
                to = f" (granted to {', '.join(sorted(set(grantees)))})" if grantees else ""
                yield Violation(f"{role_obj.key}: {'; '.join(problems)}{to}", role_obj)


@object_rule(
    "namespace-and-exposure",
    Severity.medium,
    hint="deploy into a dedicated namespace, expose through an Ingress/Gateway, use allowed registries",
    doc="no workloads in default; no NodePort/LoadBalancer/externalIPs unless allowed; images from allowed registries",
    category=CAT,
    kinds=(*WORKLOAD_KINDS, "Service"),
)
def namespace_and_exposure(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    if obj.key.kind == "Service" and obj.key.group == "":
        spec = mapping(obj.body.get("spec"))
        stype = str(spec.get("type") or "ClusterIP")
        if stype not in ctx.policy.allowed_service_types and stype != "ExternalName":
            yield Violation(
                f"Service {obj.key.name} has type {stype} (allowed: {', '.join(ctx.policy.allowed_service_types)})",
                obj,
            )
        if spec.get("externalIPs"):
            yield Violation(f"Service {obj.key.name} sets externalIPs", obj)
        return
    if obj.key.namespace == "default":
        yield Violation(f"{obj.key.kind} {obj.key.name} runs in the default namespace", obj)
    registries = ctx.policy.allowed_registries
    pspec = pod_spec(obj.body)
    if registries and pspec is not None:
        for _fld, c in containers(pspec):
            image = str(c.get("image") or "")
            if image and not any(image.startswith(r) for r in registries):
                yield Violation(
                    f"{obj.key.kind} {obj.key.name}: image {image} is not from an allowed registry", obj
                )
