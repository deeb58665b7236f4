"""The "would it reconcile" rules (issue 10): each fires on the break it names and not on the fix."""

from __future__ import annotations

from typing import Any

from check.helpers import cluster, dump, findings, ks
from fluxfleet.render.model import HelmReleaseInfo

RBAC = "rbac.authorization.k8s.io/v1"


def _hr(namespace: str, account: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "interval": "30m",
        "chart": {"spec": {"chart": "c", "sourceRef": {"kind": "HelmRepository", "name": "c"}}},
    }
    if account:
        spec["serviceAccountName"] = account
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "c", "namespace": namespace},
        "spec": spec,
    }


def _sa(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}


def _crb(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": RBAC,
        "kind": "ClusterRoleBinding",
        "metadata": {"name": f"{name}-{namespace}"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
    }


def test_helm_release_under_lockdown_without_an_account_is_flagged() -> None:
    # fleet.yaml has teams (tenant_namespaces): the lockdown's --default-service-account=default applies
    broken = cluster(dump(_hr("cert-manager")))
    found = findings(broken, "flux-impersonation-unbound", tenant_namespaces=frozenset({"team-a"}))
    [finding] = [f for f in found if "HelmRelease" in f.message]
    assert "cert-manager:default" in finding.message and finding.severity.value == "high"
    # the walk's own Kustomization names no account either: the lockdown makes it `default` too
    assert any("Kustomization flux-system/apps impersonates flux-system:default" in f.message for f in found)
    # without the lockdown helm-controller runs as itself
    assert findings(broken, "flux-impersonation-unbound") == []
    fixed = cluster(
        dump(
            _hr("cert-manager", "flux-platform"),
            _sa("flux-platform", "cert-manager"),
            _crb("flux-platform", "cert-manager"),
        )
    )
    found = findings(fixed, "flux-impersonation-unbound", tenant_namespaces=frozenset({"team-a"}))
    assert not [f for f in found if "HelmRelease" in f.message]
    unbound = cluster(dump(_hr("cert-manager", "flux-platform"), _sa("flux-platform", "cert-manager")))
    [finding] = findings(unbound, "flux-impersonation-unbound")
    assert "nothing binds" in finding.message
    missing = cluster(dump(_hr("cert-manager", "ghost")))
    assert "does not create" in findings(missing, "flux-impersonation-unbound")[0].message


def test_kustomization_account_needs_rights_where_it_applies() -> None:
    binding = {
        "apiVersion": RBAC,
        "kind": "RoleBinding",
        "metadata": {"name": "team-a", "namespace": "shop"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "team-a"},
        "subjects": [{"kind": "ServiceAccount", "name": "team-a", "namespace": "flux-system"}],
    }
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}}
    spec = {"path": "./apps/shop", "prune": True, "serviceAccountName": "team-a"}
    root = ks(dump(_sa("team-a", "flux-system"), binding), name="flux-system", path="clusters/dev")
    ok = cluster(root, ks(dump(cm), spec=spec, path="apps/shop"))
    assert findings(ok, "flux-impersonation-unbound") == []
    other = {**cm, "metadata": {"name": "c", "namespace": "billing"}}
    bad = cluster(root, ks(dump(other), spec=spec, path="apps/shop"))
    [finding] = findings(bad, "flux-impersonation-unbound")
    assert "no RoleBinding in billing" in finding.message
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    scoped = cluster(root, ks(dump(ns, cm), spec=spec, path="apps/shop"))
    assert "cluster-scoped" in findings(scoped, "flux-impersonation-unbound")[0].message


def test_helm_release_objects_count_when_the_chart_was_rendered() -> None:
    render = cluster(
        dump(
            _hr("web", "deployer"),
            _sa("deployer", "web"),
            {
                "apiVersion": RBAC,
                "kind": "RoleBinding",
                "metadata": {"name": "d", "namespace": "web"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "d"},
                "subjects": [{"kind": "ServiceAccount", "name": "deployer"}],
            },
        )
    )
    assert findings(render, "flux-impersonation-unbound") == []
    crd_like = render.kustomizations[0].objects[0]
    from fluxfleet.objects import K8sObject

    cr = K8sObject.of(
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "x"}}
    )
    with_chart = type(render)(
        cluster=render.cluster,
        path=render.path,
        labels=render.labels,
        kustomizations=render.kustomizations,
        helmreleases=(
            HelmReleaseInfo("c", "web", "c", "1", "HelmRepository/web/c", rendered=True, objects=(cr,)),
        ),
    )
    assert crd_like.key.kind == "HelmRelease"
    assert "cluster-scoped" in findings(with_chart, "flux-impersonation-unbound")[0].message


def test_pruned_kustomization_owning_a_system_namespace() -> None:
    kube_system = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}}
    pruned = cluster(
        ks(dump(kube_system), name="platform-sealed-secrets", spec={"path": "./p", "prune": True})
    )
    [finding] = findings(pruned, "prune-system-namespace")
    assert "kube-system" in finding.message and finding.severity.value == "critical"
    kept = cluster(
        ks(dump(kube_system), name="platform-sealed-secrets", spec={"path": "./p", "prune": False})
    )
    assert findings(kept, "prune-system-namespace") == []
    flux_ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}}
    bootstrap = cluster(ks(dump(flux_ns), name="flux-system", spec={"path": "./c", "prune": True}))
    assert findings(bootstrap, "prune-system-namespace") == []
    twice = cluster(ks(dump(flux_ns), name="platform-extras", spec={"path": "./c", "prune": True}))
    assert findings(twice, "prune-system-namespace")


FLUX_OWN = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}},
    {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "kustomizations.kustomize.toolkit.fluxcd.io"},
    },
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "kustomize-controller", "namespace": "flux-system"},
    },
]


def test_flux_self_removal_compares_with_the_base() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "flux-system"}}
    base = cluster(ks(dump(*FLUX_OWN, cm), name="flux-system"))
    head = cluster(ks(dump(cm), name="flux-system"))
    [finding] = findings(head, "flux-self-removal", baseline={base.cluster: base})
    assert finding.severity.value == "critical" and "removes 3 of Flux's own objects" in finding.message
    assert findings(head, "flux-self-removal") == []  # nothing to compare with
    assert findings(base, "flux-self-removal", baseline={base.cluster: base}) == []


def _alert(namespace: str, sources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "notification.toolkit.fluxcd.io/v1beta3",
        "kind": "Alert",
        "metadata": {"name": "a", "namespace": namespace},
        "spec": {"providerRef": {"name": "p"}, "eventSources": sources},
    }


def test_alert_that_can_receive_nothing() -> None:
    provider = {
        "apiVersion": "notification.toolkit.fluxcd.io/v1beta3",
        "kind": "Provider",
        "metadata": {"name": "p", "namespace": "flux-system"},
        "spec": {"type": "slack", "secretRef": {"name": "s"}},
    }
    ksobj = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "flux-system"},
        "spec": {"interval": "1m", "prune": True, "sourceRef": {"kind": "GitRepository", "name": "x"}},
    }
    cross = _alert("flux-system", [{"kind": "HelmRelease", "name": "*", "namespace": "web"}])
    hr = _hr("web")
    locked = {"noCrossNamespaceRefs": True}
    [finding] = findings(cluster(dump(provider, hr, cross)), "alert-receives-nothing", policy=locked)
    assert "cross-namespace" in finding.message and finding.severity.value == "medium"
    assert findings(cluster(dump(provider, hr, cross)), "alert-receives-nothing") == []
    local = _alert("flux-system", [{"kind": "Kustomization", "name": "*"}])
    assert findings(cluster(dump(provider, ksobj, local)), "alert-receives-nothing", policy=locked) == []
    nothing = _alert("flux-system", [{"kind": "Kustomization", "name": "ghost"}])
    assert (
        "no such object"
        in findings(cluster(dump(provider, ksobj, nothing)), "alert-receives-nothing")[0].message
    )
    orphan = findings(cluster(dump(ksobj, local)), "alert-receives-nothing")
    assert "Provider flux-system/p" in orphan[0].message


def _crd(group: str, kind: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.lower()}s.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": kind, "plural": f"{kind.lower()}s"},
            "scope": "Namespaced",
        },
    }


def _image_repository() -> dict[str, Any]:
    return {
        "apiVersion": "image.toolkit.fluxcd.io/v1",
        "kind": "ImageRepository",
        "metadata": {"name": "web", "namespace": "flux-system"},
        "spec": {"image": "ghcr.io/acme/web", "interval": "5m"},
    }


def test_flux_object_without_its_crd_in_a_real_flux_install() -> None:
    # gotk-components.yaml exported without the image controllers, image automation objects beside it
    broken = cluster(dump(_crd("kustomize.toolkit.fluxcd.io", "Kustomization"), _image_repository()))
    [finding] = findings(broken, "flux-crd-missing")
    assert "ImageRepository" in finding.message and finding.severity.value == "high"
    fixed = cluster(
        dump(
            _crd("kustomize.toolkit.fluxcd.io", "Kustomization"),
            _crd("image.toolkit.fluxcd.io", "ImageRepository"),
            _image_repository(),
        )
    )
    assert findings(fixed, "flux-crd-missing") == []
    # a placeholder gotk-components.yaml renders no CRD at all: nothing is known, nothing is claimed
    assert findings(cluster(dump(_image_repository())), "flux-crd-missing") == []
