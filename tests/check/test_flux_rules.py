"""Flux reference rules over renders with several Kustomizations."""

from __future__ import annotations

from typing import Any

from check.helpers import cluster, dump, findings, ks
from fluxfleet.check.rules.flux_refs import find_cycles
from fluxfleet.render.model import KsStatus

GIT = {
    "apiVersion": "source.toolkit.fluxcd.io/v1",
    "kind": "GitRepository",
    "metadata": {"name": "flux-system", "namespace": "flux-system"},
    "spec": {"url": "https://example.com/r.git", "interval": "1m"},
}


def kustomization(name: str, ns: str = "flux-system", **spec: Any) -> dict[str, Any]:
    base = {"interval": "10m", "prune": True, "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": ns},
        "spec": {**base, **spec},
    }


def test_source_missing_and_present() -> None:
    good = cluster(dump(GIT, kustomization("apps")))
    assert findings(good, "flux-source-missing") == []
    bad = cluster(dump(GIT, kustomization("apps", sourceRef={"kind": "GitRepository", "name": "nope"})))
    found = findings(bad, "flux-source-missing")
    assert len(found) == 1 and "GitRepository/flux-system/nope" in found[0].message
    assert found[0].severity.value == "high"


def test_root_source_counts_as_present_and_unrendered_lowers_severity() -> None:
    root = ks(dump(kustomization("apps")), name="flux-system", path="clusters/dev")
    root = root.__class__(**{**root.__dict__, "source": "GitRepository/flux-system/flux-system"})
    assert findings(cluster(root), "flux-source-missing") == []
    other = kustomization("x", sourceRef={"kind": "OCIRepository", "name": "oci"})
    ext = ks("", name="ext", path=None, status=KsStatus.external)
    found = findings(cluster(ks(dump(other)), ext), "flux-source-missing")
    assert len(found) == 1 and found[0].severity.value == "medium" and "unrendered" in found[0].message


def test_helmrelease_chart_source() -> None:
    hr = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "h", "namespace": "x"},
    }
    hr["spec"] = {"chart": {"spec": {"chart": "c", "sourceRef": {"kind": "HelmRepository", "name": "repo"}}}}
    found = findings(cluster(dump(hr)), "flux-source-missing")
    assert len(found) == 1 and "HelmRepository/x/repo" in found[0].message
    repo = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": {"name": "repo", "namespace": "x"},
    }
    assert findings(cluster(dump(hr, repo)), "flux-source-missing") == []


def test_dependencies_missing_and_cycles_reported_as_path() -> None:
    a = kustomization("a", dependsOn=[{"name": "b"}])
    b = kustomization("b", dependsOn=[{"name": "c"}])
    c = kustomization("c", dependsOn=[{"name": "a"}])
    d = kustomization("d", dependsOn=[{"name": "ghost"}])
    render = cluster(dump(GIT, a, b, c, d))
    cycles = findings(render, "flux-dependency-cycle")
    assert [f.message for f in cycles] == [
        "Kustomization dependency cycle: flux-system/a -> flux-system/b -> flux-system/c -> flux-system/a"
    ]
    missing = findings(render, "flux-dependency-missing")
    assert len(missing) == 1 and "flux-system/ghost" in missing[0].message
    ok = cluster(dump(GIT, kustomization("a"), kustomization("b", dependsOn=[{"name": "a"}])))
    assert findings(ok, "flux-dependency-cycle") == [] and findings(ok, "flux-dependency-missing") == []


def test_find_cycles_reports_each_cycle_once() -> None:
    assert find_cycles({"a": ["a"]}) == [["a", "a"]]
    assert find_cycles({"a": ["b"], "b": ["a"], "c": ["a"]}) == [["a", "b", "a"]]
    assert find_cycles({"a": ["b"], "b": []}) == []


def test_path_missing_uses_the_repository() -> None:
    render = cluster(ks(dump(GIT), path="apps/gone"))
    found = findings(render, "flux-path-missing", path_exists=lambda p: p != "apps/gone")
    assert len(found) == 1 and "does not exist" in found[0].message
    assert findings(render, "flux-path-missing", path_exists=lambda p: True) == []


def test_unresolved_variables() -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "a"},
        "data": {"x": "${REGION}"},
    }
    inline = ks(dump(cm), spec={"postBuild": {"substitute": {"CLUSTER": "a"}}})
    found = findings(cluster(inline), "flux-unresolved-variable")
    assert len(found) == 1 and "${REGION}" in found[0].message and found[0].severity.value == "high"
    from_cluster = ks(
        dump(cm), spec={"postBuild": {"substituteFrom": [{"kind": "ConfigMap", "name": "vars"}]}}
    )
    assert findings(cluster(from_cluster), "flux-unresolved-variable")[0].severity.value == "medium"
    assert findings(cluster(ks(dump(cm), spec={})), "flux-unresolved-variable") == []
    cm["metadata"]["labels"] = {"kustomize.toolkit.fluxcd.io/substitute": "disabled"}
    assert (
        findings(
            cluster(ks(dump(cm), spec={"postBuild": {"substitute": {"A": "b"}}})), "flux-unresolved-variable"
        )
        == []
    )


def test_object_applied_by_two_kustomizations() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "a"}}
    render = cluster(ks(dump(cm), name="one"), ks(dump(cm), name="two", path="apps/two"))
    found = findings(render, "flux-apply-conflict")
    assert len(found) == 1 and "flux-system/one, flux-system/two" in found[0].message
    assert findings(cluster(ks(dump(cm), name="one")), "flux-apply-conflict") == []


def test_target_namespace_collisions() -> None:
    a = kustomization("a", ns="team-a", targetNamespace="shared")
    b = kustomization("b", ns="team-b", targetNamespace="shared")
    found = findings(cluster(dump(a, b)), "flux-target-namespace-collision")
    assert len(found) == 1 and "shared" in found[0].message
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "team-a", "namespace": "team-a"}}
    c = kustomization("c", ns="team-a", targetNamespace="team-b", serviceAccountName="team-a")
    found = findings(cluster(dump(sa, c)), "flux-target-namespace-collision")
    assert len(found) == 1 and "no RoleBinding in its targetNamespace 'team-b'" in found[0].message
    rb = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "r", "namespace": "team-b"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "team-a", "namespace": "team-a"}],
    }
    assert findings(cluster(dump(sa, c, rb)), "flux-target-namespace-collision") == []
    ok = kustomization("d", ns="team-a", targetNamespace="team-a", serviceAccountName="team-a")
    assert findings(cluster(dump(sa, ok)), "flux-target-namespace-collision") == []


def test_prune_disabled_and_suspended() -> None:
    render = cluster(dump(kustomization("a", prune=False), kustomization("b", suspend=True)))
    assert [f.object.name for f in findings(render, "flux-prune-disabled") if f.object] == ["a"]
    assert [f.object.name for f in findings(render, "flux-suspended") if f.object] == ["b"]


def test_path_missing_asks_once_per_distinct_path_and_reports_every_cluster() -> None:
    # issue 16: a 1,000-cluster fleet names a few dozen paths; the file system is asked once each.
    from check.helpers import store
    from fluxfleet.check.context import CheckOptions
    from fluxfleet.check.engine import run_checks

    asked: list[str] = []

    def exists(path: str) -> bool:
        asked.append(path)
        return path != "apps/gone"

    renders = [
        cluster(ks(dump(GIT), path="apps/gone"), ks(dump(GIT), name="ok", path="apps/here"), name=f"c{i}")
        for i in range(5)
    ]
    result = run_checks(
        renders, CheckOptions(path_exists=exists, schemas=store()), only=["flux-path-missing"]
    )
    assert sorted(asked) == ["apps/gone", "apps/here"]
    assert sorted(f.cluster for f in result.findings) == [f"c{i}" for i in range(5)]
