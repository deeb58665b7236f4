"""Flux multi-tenancy guardrails: impersonation, reconciler scope, cross-namespace refs, sources.

A "tenant" Flux object lives in, or applies into (targetNamespace), a tenant namespace;
tenant namespaces are those labelled ``toolkit.fluxcd.io/tenant`` (what ``flux create tenant``
writes), teams from fleet.yaml, or names listed in the policy's ``tenantNamespaces``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fluxfleet.check.context import ClusterContext
from fluxfleet.check.model import Severity, Violation
from fluxfleet.check.registry import cluster_rule, object_rule
from fluxfleet.check.rules.flux_refs import HELM_GROUP, KS_GROUP, source_refs
from fluxfleet.fleet.tenancy import FLUX_CONTROLLER_ACCOUNTS
from fluxfleet.objects import K8sObject

RBAC = "rbac.authorization.k8s.io"


def _spec(obj: K8sObject) -> dict[str, Any]:
    spec = obj.body.get("spec")
    return spec if isinstance(spec, dict) else {}


def is_tenant_flux_object(obj: K8sObject, ctx: ClusterContext) -> bool:
    if ctx.is_tenant_namespace(obj.key.namespace):
        return True
    target = _spec(obj).get("targetNamespace")
    return isinstance(target, str) and ctx.is_tenant_namespace(target)


def tenant_reconcilers(ctx: ClusterContext) -> set[tuple[str, str]]:
    """``(namespace, name)`` of the ServiceAccounts tenant Kustomizations/HelmReleases impersonate."""
    cached: set[tuple[str, str]] | None = ctx.cache.get("tenant_reconcilers")
    if cached is not None:
        return cached
    out: set[tuple[str, str]] = set()
    for kind, group in (("Kustomization", KS_GROUP), ("HelmRelease", HELM_GROUP)):
        for obj in ctx.of_kind(kind, group):
            sa = _spec(obj).get("serviceAccountName")
            if sa and is_tenant_flux_object(obj, ctx):
                out.add((obj.key.namespace, str(sa)))
    ctx.cache["tenant_reconcilers"] = out
    return out


@object_rule(
    "flux-tenant-impersonation",
    Severity.high,
    hint="set spec.serviceAccountName to the tenant's reconciler ServiceAccount",
    doc="a tenant Kustomization/HelmRelease does not impersonate a ServiceAccount (it would apply as the controller)",
    category="tenancy",
    kinds=("Kustomization", "HelmRelease"),
)
def flux_tenant_impersonation(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    if obj.key.group not in (KS_GROUP, HELM_GROUP) or not is_tenant_flux_object(obj, ctx):
        return
    account = _spec(obj).get("serviceAccountName")
    if account in FLUX_CONTROLLER_ACCOUNTS:
        # Impersonating a controller's own account is no impersonation at all: it has
        # cluster-admin, so the tenant's manifests could change anything on the cluster.
        yield Violation(
            f"tenant {obj.key} impersonates the Flux controller account {account!r}, which is cluster-admin",
            obj,
        )
        return
    if account:
        return
    controller = "kustomize-controller" if obj.key.group == KS_GROUP else "helm-controller"
    if ctx.controller_flag(controller, "--default-service-account"):
        return
    yield Violation(
        f"tenant {obj.key} sets no serviceAccountName and {controller} has no --default-service-account",
        obj,
    )


def _subject_ids(binding: K8sObject) -> list[tuple[str, str, str]]:
    out = []
    for s in binding.body.get("subjects") or []:
        if isinstance(s, dict):
            ns = str(
                s.get("namespace") or (binding.key.namespace if s.get("kind") == "ServiceAccount" else "")
            )
            out.append((str(s.get("kind") or ""), ns, str(s.get("name") or "")))
    return out


@cluster_rule(
    "flux-tenant-sa-scope",
    Severity.high,
    hint="bind the tenant reconciler with a RoleBinding in its own namespace, not a ClusterRoleBinding",
    doc="a tenant's reconcile ServiceAccount (or gotk:<ns>:reconciler user) is bound cluster-wide",
    category="tenancy",
)
def flux_tenant_sa_scope(ctx: ClusterContext) -> Iterator[Violation]:
    reconcilers = tenant_reconcilers(ctx)
    users = {f"gotk:{ns}:reconciler" for ns, _ in reconcilers}
    for crb in ctx.of_kind("ClusterRoleBinding", RBAC):
        for kind, ns, name in _subject_ids(crb):
            if (kind == "ServiceAccount" and (ns, name) in reconcilers) or (kind == "User" and name in users):
                who = f"{ns}/{name}" if ns else name
                yield Violation(
                    f"ClusterRoleBinding {crb.key.name} binds tenant reconciler {kind} {who}", crb
                )


@object_rule(
    "flux-cross-namespace-source",
    Severity.high,
    hint="reference a source in the object's own namespace (the cluster blocks cross-namespace refs)",
    doc="sourceRef points to another namespace while the cluster runs --no-cross-namespace-refs",
    category="tenancy",
    kinds=("Kustomization", "HelmRelease"),
)
def flux_cross_namespace_source(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    if obj.key.group not in (KS_GROUP, HELM_GROUP) or not ctx.no_cross_namespace_refs:
        return
    for field, ref in source_refs(obj):
        ns = ref.get("namespace")
        if ns and ns != obj.key.namespace:
            yield Violation(
                f"{field} {ref.get('kind')}/{ns}/{ref.get('name')} is in another namespace; "
                "kustomize-controller runs with --no-cross-namespace-refs (AccessDenied)",
                obj,
            )


def _allowed(url: str, prefixes: tuple[str, ...]) -> bool:
    return any(url.startswith(p) for p in prefixes)


@object_rule(
    "flux-source-allowlist",
    Severity.high,
    hint="use a source from an allowed organisation/registry, or extend policy.allowedSources",
    doc="a Git/OCI/Helm/Bucket source URL is outside the policy's allowedSources",
    category="tenancy",
    kinds=("GitRepository", "OCIRepository", "HelmRepository", "Bucket"),
)
def flux_source_allowlist(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    allowed = ctx.policy.allowed_sources
    if not allowed or not obj.key.group.startswith("source.toolkit.fluxcd.io"):
        return
    spec = _spec(obj)
    url = str(spec.get("url") or spec.get("endpoint") or "")
    if url and not _allowed(url, allowed):
        yield Violation(f"{obj.key.kind} URL {url} is not in allowedSources", obj)
