"""Hub and spokes: objects applied through ``spec.kubeConfig`` belong to the spoke cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fluxfleet.cli.main import main
from fluxfleet.render.spokes import HUB_LABEL

from .helpers import DEPLOYMENT, cluster_repo, ks, objects, render


def _hub(root: Path) -> Path:
    remote = {"secretRef": {"name": "cluster-kubeconfig"}}
    hub_source = {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"}
    return cluster_repo(
        root,
        {
            "apps.yaml": [
                ks("apps", "./apps/hub"),
                ks(
                    "apps",
                    "./apps/staging",
                    namespace="staging",
                    kubeConfig=remote,
                    targetNamespace="default",
                    sourceRef=hub_source,
                ),
            ],
        },
        {
            "apps/hub/kustomization.yaml": "resources: [deployment.yaml]\nnamespace: default\n",
            "apps/hub/deployment.yaml": DEPLOYMENT,
            "apps/staging/kustomization.yaml": "resources: [deployment.yaml, infra.yaml]\n",
            "apps/staging/deployment.yaml": DEPLOYMENT,
            # a Kustomization applied on the spoke: it and what it builds follow its parent there
            "apps/staging/infra.yaml": json.dumps(
                ks("infra", "./infra", namespace="staging", sourceRef=hub_source)
            ),
            "infra/kustomization.yaml": "resources: [cm.yaml]\n",
            "infra/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: infra, namespace: kube-system}\n",
        },
    )


def test_objects_sent_through_kubeconfig_belong_to_the_spoke(tmp_path: Path) -> None:
    renders = {r.cluster: r for r in render(_hub(tmp_path / "repo"))}
    assert sorted(renders) == ["staging-cluster-kubeconfig", "test"]
    hub, spoke = renders["test"], renders["staging-cluster-kubeconfig"]
    assert spoke.labels == {HUB_LABEL: "test"}
    assert "Deployment/default/web" in objects(hub)
    assert "Deployment/default/web" in objects(spoke)  # the same name on another cluster: no clash
    assert "ConfigMap/kube-system/infra" in objects(spoke)
    assert "ConfigMap/kube-system/infra" not in objects(hub)
    assert {k.id for k in spoke.kustomizations} == {"staging/apps", "default/infra"}  # targetNamespace
    assert "staging/apps" not in {k.id for k in hub.kustomizations}


def test_hub_conflict_check_ignores_spoke_objects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Without the split both Deployments default/web would be applied "on the hub" by two
    # Kustomizations: a high flux-apply-conflict finding.
    main(["check", "-C", str(_hub(tmp_path / "repo")), "-o", "json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert not [f for f in findings if f["rule"] == "flux-apply-conflict"]
    assert {f["cluster"] for f in findings} == {"test", "staging-cluster-kubeconfig"}


def test_helmrelease_with_kubeconfig_renders_into_the_spoke(tmp_path: Path) -> None:
    release = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "hello", "namespace": "edge"},
        "spec": {
            "kubeConfig": {"secretRef": {"name": "edge-kubeconfig"}},
            "chart": {
                "spec": {
                    "chart": "./charts/hello",
                    "sourceRef": {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"},
                }
            },
            "valuesFrom": [{"kind": "ConfigMap", "name": "hello-values"}],  # read on the hub
        },
    }
    values = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "hello-values", "namespace": "edge"},
        "data": {"values.yaml": "greeting: from-the-hub\n"},
    }
    repo = cluster_repo(
        tmp_path / "repo",
        {"release.yaml": [release, values]},
        {
            "charts/hello/Chart.yaml": "apiVersion: v2\nname: hello\nversion: 0.1.0\n",
            "charts/hello/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\n"
            "data:\n  greeting: {{ .Values.greeting }}\n",
        },
    )
    renders = {r.cluster: r for r in render(repo)}
    assert sorted(renders) == ["edge-edge-kubeconfig", "test"]
    assert "HelmRelease/edge/hello" in objects(renders["test"])  # the object lives on the hub
    assert "ConfigMap/edge/hello" not in objects(renders["test"])
    assert (
        objects(renders["edge-edge-kubeconfig"])["ConfigMap/edge/hello"]["data"]["greeting"] == "from-the-hub"
    )
