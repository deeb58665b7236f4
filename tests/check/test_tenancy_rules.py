"""Multi-tenancy guardrails: network, quota, RBAC, impersonation and cross-namespace refs."""

from __future__ import annotations

from typing import Any

from check.helpers import cluster, dump, findings

TENANT_NS = {
    "apiVersion": "v1",
    "kind": "Namespace",
    "metadata": {"name": "team-a", "labels": {"toolkit.fluxcd.io/tenant": "a"}},
}
DENY_ALL = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "default-deny", "namespace": "team-a"},
    "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
}
QUOTA = {
    "apiVersion": "v1",
    "kind": "ResourceQuota",
    "metadata": {"name": "q", "namespace": "team-a"},
    "spec": {"hard": {"requests.cpu": "4"}},
}
LIMITS = {
    "apiVersion": "v1",
    "kind": "LimitRange",
    "metadata": {"name": "l", "namespace": "team-a"},
    "spec": {"limits": []},
}


def binding(kind: str, role: str, subjects: list[dict[str, Any]], ns: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "b"}
    if ns:
        meta["namespace"] = ns
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    }


def tenant_ks(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "team-a"},
        "spec": {
            "interval": "5m",
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": "r"},
            **spec,
        },
    }


def test_default_deny_network_policy() -> None:
    assert findings(cluster(dump(TENANT_NS, DENY_ALL)), "tenant-default-deny-netpol") == []
    found = findings(cluster(dump(TENANT_NS)), "tenant-default-deny-netpol")
    assert len(found) == 1 and "team-a" in found[0].message
    allow_all = {
        **DENY_ALL,
        "metadata": {"name": "open", "namespace": "team-a"},
        "spec": {"podSelector": {}, "ingress": [{}]},
    }
    found = findings(cluster(dump(TENANT_NS, DENY_ALL, allow_all)), "tenant-default-deny-netpol")
    assert len(found) == 1 and "allows all traffic" in found[0].message


def test_non_tenant_namespaces_are_not_held_to_tenant_rules() -> None:
    plain = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "infra"}}
    assert findings(cluster(dump(plain)), "tenant-default-deny-netpol") == []
    found = findings(
        cluster(dump(plain)), "tenant-default-deny-netpol", policy={"tenantNamespaces": ["inf*"]}
    )
    assert len(found) == 1


def test_resource_quota_and_limit_range() -> None:
    assert findings(cluster(dump(TENANT_NS, QUOTA, LIMITS)), "tenant-resource-quota") == []
    found = findings(cluster(dump(TENANT_NS, QUOTA)), "tenant-resource-quota")
    assert len(found) == 1 and "no LimitRange" in found[0].message


def test_no_cluster_admin_for_tenants() -> None:
    sa = [{"kind": "ServiceAccount", "name": "a", "namespace": "team-a"}]
    crb = binding("ClusterRoleBinding", "cluster-admin", sa)
    found = findings(cluster(dump(TENANT_NS, crb)), "no-cluster-admin-for-tenants")
    assert len(found) == 1 and found[0].severity.value == "critical"
    # Flux's own tenant pattern: a namespaced RoleBinding to cluster-admin is allowed
    rb = binding("RoleBinding", "cluster-admin", sa, ns="team-a")
    assert findings(cluster(dump(TENANT_NS, rb)), "no-cluster-admin-for-tenants") == []
    system = binding(
        "ClusterRoleBinding",
        "cluster-admin",
        [{"kind": "ServiceAccount", "name": "x", "namespace": "kube-system"}],
    )
    assert findings(cluster(dump(TENANT_NS, system)), "no-cluster-admin-for-tenants") == []


def test_rbac_least_privilege_for_roles_granted_to_tenants() -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "dev", "namespace": "team-a"},
        "rules": [{"apiGroups": [""], "resources": ["secrets", "pods/exec"], "verbs": ["get", "create"]}],
    }
    text = findings(cluster(dump(TENANT_NS, role)), "rbac-least-privilege")[0].message
    assert "reads secrets" in text and "exec/attach" in text
    role["rules"] = [
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "update"]}
    ]
    assert findings(cluster(dump(TENANT_NS, role)), "rbac-least-privilege") == []
    cr = {
        **role,
        "kind": "ClusterRole",
        "metadata": {"name": "wide"},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
    }
    crb = binding("ClusterRoleBinding", "wide", [{"kind": "User", "name": "gotk:team-a:reconciler"}])
    crb["roleRef"]["name"] = "wide"
    found = findings(cluster(dump(TENANT_NS, cr, crb)), "rbac-least-privilege")
    assert (
        len(found) == 1
        and "wildcard in verbs" in found[0].message
        and "gotk:team-a:reconciler" in found[0].message
    )
    # Flux's own controllers' wildcard roles are not tenant roles
    assert findings(cluster(dump(TENANT_NS, cr)), "rbac-least-privilege") == []


def test_tenant_impersonation_and_default_service_account_flag() -> None:
    found = findings(cluster(dump(TENANT_NS, tenant_ks())), "flux-tenant-impersonation")
    assert len(found) == 1 and "serviceAccountName" in found[0].message
    assert (
        findings(cluster(dump(TENANT_NS, tenant_ks(serviceAccountName="a"))), "flux-tenant-impersonation")
        == []
    )
    controller = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "kustomize-controller", "namespace": "flux-system"},
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "manager", "args": ["--default-service-account=default"]}]}
            }
        },
    }
    assert findings(cluster(dump(TENANT_NS, controller, tenant_ks())), "flux-tenant-impersonation") == []
    as_controller = tenant_ks(serviceAccountName="kustomize-controller")
    found = findings(cluster(dump(TENANT_NS, controller, as_controller)), "flux-tenant-impersonation")
    assert len(found) == 1 and "cluster-admin" in found[0].message


def test_tenant_reconciler_bound_cluster_wide() -> None:
    crb = binding(
        "ClusterRoleBinding", "view", [{"kind": "ServiceAccount", "name": "a", "namespace": "team-a"}]
    )
    render = cluster(dump(TENANT_NS, tenant_ks(serviceAccountName="a"), crb))
    found = findings(render, "flux-tenant-sa-scope")
    assert len(found) == 1 and "team-a/a" in found[0].message
    rb = binding(
        "RoleBinding", "admin", [{"kind": "ServiceAccount", "name": "a", "namespace": "team-a"}], ns="team-a"
    )
    assert (
        findings(cluster(dump(TENANT_NS, tenant_ks(serviceAccountName="a"), rb)), "flux-tenant-sa-scope")
        == []
    )


def test_cross_namespace_source_only_when_locked_down() -> None:
    ks = tenant_ks(sourceRef={"kind": "GitRepository", "name": "r", "namespace": "flux-system"})
    assert findings(cluster(dump(ks)), "flux-cross-namespace-source") == []
    found = findings(cluster(dump(ks)), "flux-cross-namespace-source", policy={"noCrossNamespaceRefs": True})
    assert len(found) == 1 and "AccessDenied" in found[0].message
    controller = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "kustomize-controller", "namespace": "flux-system"},
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "manager", "args": ["--no-cross-namespace-refs=true"]}]}
            }
        },
    }
    assert len(findings(cluster(dump(controller, ks)), "flux-cross-namespace-source")) == 1


def test_source_allowlist() -> None:
    git = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "g", "namespace": "a"},
    }
    git["spec"] = {"url": "https://github.com/evil/repo", "interval": "1m"}
    policy = {"allowedSources": ["https://github.com/acme/"]}
    assert len(findings(cluster(dump(git)), "flux-source-allowlist", policy=policy)) == 1
    git["spec"]["url"] = "https://github.com/acme/repo"
    assert findings(cluster(dump(git)), "flux-source-allowlist", policy=policy) == []
