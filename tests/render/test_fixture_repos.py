"""Golden renders of Flux's own example repositories (shared/fixtures/repos), asserted object by object."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fluxfleet.render.model import KsStatus

from .helpers import by_id, objects, render

OWNER = "kustomize.toolkit.fluxcd.io/name"


@pytest.fixture(scope="module")
def helm_example(fixture_repos: Path) -> dict[str, object]:
    return {r.cluster: r for r in render(fixture_repos / "flux2-kustomize-helm-example")}


def test_kustomize_helm_example_discovers_both_clusters_from_placeholders(
    helm_example: dict[str, object],
) -> None:
    assert sorted(helm_example) == ["production", "staging"]
    prod = helm_example["production"]
    assert prod.path == "clusters/production"  # type: ignore[attr-defined]
    assert prod.errors == ()  # type: ignore[attr-defined]
    kss = by_id(prod)  # type: ignore[arg-type]
    assert list(kss) == [
        "flux-system/flux-system",
        "flux-system/apps",
        "flux-system/infra-controllers",
        "flux-system/infra-configs",
    ]
    assert all(k.status is KsStatus.rendered for k in kss.values())
    assert kss["flux-system/apps"].depends_on == ["flux-system/infra-configs"]
    assert kss["flux-system/apps"].path == "apps/production"


def test_kustomize_helm_example_objects(helm_example: dict[str, object]) -> None:
    prod = objects(helm_example["production"])  # type: ignore[arg-type]
    stag = objects(helm_example["staging"])  # type: ignore[arg-type]
    assert {
        "Namespace/podinfo",
        "HelmRepository/podinfo/podinfo",
        "HelmRelease/podinfo/podinfo",
        "Namespace/cert-manager",
        "HelmRelease/cert-manager/cert-manager",
        "HelmRelease/ingress-nginx/ingress-nginx",
        "ClusterIssuer/letsencrypt",
        "Kustomization/flux-system/apps",
    } <= set(prod)
    # the Flux Kustomization's JSON6902 patch applies to the ClusterIssuer in production only
    assert (
        prod["ClusterIssuer/letsencrypt"]["spec"]["acme"]["server"]
        == "https://acme-v02.api.letsencrypt.org/directory"
    )
    assert "staging" in stag["ClusterIssuer/letsencrypt"]["spec"]["acme"]["server"]
    release = prod["HelmRelease/podinfo/podinfo"]
    assert release["spec"]["chart"]["spec"]["version"] == ">=1.0.0"
    assert release["spec"]["values"]["ingress"]["hosts"][0]["host"] == "podinfo.production"
    assert release["metadata"]["labels"][OWNER] == "apps"
    assert prod["Namespace/cert-manager"]["metadata"]["labels"][OWNER] == "infra-controllers"


def test_kustomize_helm_example_helmreleases_listed_not_rendered(helm_example: dict[str, object]) -> None:
    releases = {h.name: h for h in helm_example["production"].helmreleases}  # type: ignore[attr-defined]
    assert set(releases) == {"podinfo", "cert-manager", "ingress-nginx"}
    assert releases["cert-manager"].version == "1.x"
    assert releases["cert-manager"].source == "HelmRepository/cert-manager/cert-manager"
    assert releases["podinfo"].values == ("inline",)
    assert all(not h.rendered and h.reason.startswith("not rendered") for h in releases.values())


def test_multi_tenancy_external_sources_are_listed_with_reasons(fixture_repos: Path) -> None:
    renders = {r.cluster: r for r in render(fixture_repos / "flux2-multi-tenancy")}
    assert sorted(renders) == ["production", "staging"]
    prod = renders["production"]
    assert prod.errors == ()
    kss = by_id(prod)
    oci = kss["flux-system/kyverno-controller"]
    assert oci.status is KsStatus.external
    assert oci.source == "OCIRepository/flux-system/kyverno-controller"
    assert "--source kyverno-controller=PATH" in (oci.reason or "")
    tenant = kss["apps/dev-team"]
    assert tenant.status is KsStatus.external
    assert tenant.parent == "flux-system/tenants"
    objs = objects(prod)
    # the tenant overlay patches the tenant Kustomization's path; namespace comes from the base
    assert objs["Kustomization/apps/dev-team"]["spec"]["path"] == "./production"
    assert objs["RoleBinding/apps/gotk-reconciler"]["roleRef"]["name"] == "cluster-admin"
    assert (
        objs["OCIRepository/flux-system/kyverno-controller"]["apiVersion"]
        == "source.toolkit.fluxcd.io/v1beta2"
    )
    assert {"Namespace/apps", "ServiceAccount/apps/dev-team", "GitRepository/apps/dev-team"} <= set(objs)


def test_multi_tenancy_tenant_source_mapped_to_a_folder(fixture_repos: Path, tmp_path: Path) -> None:
    tenant = tmp_path / "dev-team"
    (tenant / "production").mkdir(parents=True)
    (tenant / "production" / "app.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\n  namespace: apps\ndata:\n  a: b\n"
    )
    renders = {
        r.cluster: r for r in render(fixture_repos / "flux2-multi-tenancy", sources=(f"dev-team={tenant}",))
    }
    tenant_ks = by_id(renders["production"])["apps/dev-team"]
    assert tenant_ks.status is KsStatus.rendered
    assert [str(o.key) for o in tenant_ks.objects] == ["ConfigMap/apps/hello"]
    assert tenant_ks.objects[0].body["metadata"]["labels"][OWNER] == "dev-team"


def test_monitoring_example_generators_and_name_references(fixture_repos: Path) -> None:
    (test,) = render(fixture_repos / "flux2-monitoring-example")
    assert test.cluster == "test"
    assert test.errors == ()
    objs = objects(test)
    dashboards = [k for k in objs if k.startswith("ConfigMap/monitoring/flux-grafana-dashboards-")]
    assert len(dashboards) == 1
    body = objs[dashboards[0]]
    assert body["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/substitute"] == "disabled"
    assert "${" in body["data"]["control-plane.json"]
    state_cm = next(k for k in objs if k.startswith("ConfigMap/monitoring/flux-kube-state-metrics-config-"))
    release = objs["HelmRelease/monitoring/kube-prometheus-stack"]
    assert release["spec"]["valuesFrom"][0]["name"] == state_cm.rsplit("/", 1)[1]


def test_monitoring_dashboards_survive_strict_substitution(fixture_repos: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(fixture_repos / "flux2-monitoring-example", repo)
    sync = repo / "clusters/test/monitoring.yaml"
    sync.write_text(sync.read_text() + "  postBuild:\n    substitute:\n      cluster: test\n")
    (test,) = render(repo)
    assert test.errors == ()
    configs = by_id(test)["flux-system/monitoring-configs"]
    assert configs.status is KsStatus.rendered
    assert any("${" in str(o.body.get("data")) for o in configs.objects)
