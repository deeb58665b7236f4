"""Removed and deprecated APIs for the target Kubernetes and Flux versions, replacement named."""

from __future__ import annotations

from check.helpers import cluster, dump, findings


def obj(api: str, kind: str) -> dict[str, object]:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": "x", "namespace": "a"}, "spec": {}}


def test_kubernetes_removed_api_names_replacement() -> None:
    found = findings(cluster(dump(obj("policy/v1beta1", "PodDisruptionBudget"))), "api-removed")
    assert len(found) == 1 and "use policy/v1" in found[0].message and "1.25" in found[0].message
    assert findings(cluster(dump(obj("policy/v1", "PodDisruptionBudget"))), "api-removed") == []


def test_kubernetes_deprecated_before_removal() -> None:
    hpa = obj("autoscaling/v2beta2", "HorizontalPodAutoscaler")
    assert findings(cluster(dump(hpa)), "api-deprecated", policy={"kubernetesVersion": "1.25"})
    assert not findings(cluster(dump(hpa)), "api-removed", policy={"kubernetesVersion": "1.25"})
    assert findings(cluster(dump(hpa)), "api-removed", policy={"kubernetesVersion": "1.26"})


def test_flux_removals_follow_the_flux_version() -> None:
    ks = obj("kustomize.toolkit.fluxcd.io/v1beta2", "Kustomization")
    found = findings(cluster(dump(ks)), "api-removed")
    assert (
        len(found) == 1
        and "Flux 2.8" in found[0].message
        and "kustomize.toolkit.fluxcd.io/v1" in found[0].message
    )
    assert findings(cluster(dump(ks)), "api-removed", policy={"fluxVersion": "2.7"}) == []
    assert findings(cluster(dump(ks)), "api-deprecated", policy={"fluxVersion": "2.7"})
    alert = obj("notification.toolkit.fluxcd.io/v1beta2", "Alert")
    assert "v1beta3" in findings(cluster(dump(alert)), "api-removed")[0].message
    assert (
        findings(cluster(dump(obj("notification.toolkit.fluxcd.io/v1beta3", "Alert"))), "api-removed") == []
    )


def test_removed_flux_fields() -> None:
    ks = obj("kustomize.toolkit.fluxcd.io/v1", "Kustomization")
    assert findings(cluster(dump(ks)), "flux-removed-fields") == []
    ks["spec"] = {"patchesStrategicMerge": []}
    found = findings(cluster(dump(ks)), "flux-removed-fields")
    assert len(found) == 1 and "spec.patches" in found[0].message
