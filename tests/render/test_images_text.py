"""`get images` as text: every cluster is named, whatever the size of the fleet."""

from __future__ import annotations

from fluxfleet.objects import K8sObject
from fluxfleet.render.model import ClusterRender, KsStatus, KustomizationRender
from fluxfleet.render.present import images_text


def _cluster(name: str, tag: str) -> ClusterRender:
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": f"ghcr.io/acme/web:{tag}"}]}}},
    }
    ks = KustomizationRender("apps", "flux-system", {}, KsStatus.rendered, objects=(K8sObject.of(deploy),))
    return ClusterRender(cluster=name, path=f"clusters/{name}", kustomizations=(ks,))


def test_small_fleet_is_an_image_by_cluster_matrix() -> None:
    text = images_text([_cluster("dev", "1.1"), _cluster("prod", "1.0")])
    assert text.splitlines() == ["IMAGE             dev  prod", "ghcr.io/acme/web  1.1  1.0"]


def test_large_fleet_lists_every_cluster_per_tag_wrapped() -> None:
    names = [f"production-cluster-{i:02d}" for i in range(14)]
    renders = [_cluster(n, "2.0" if i < 12 else "2.1") for i, n in enumerate(names)]
    text = images_text(renders)
    assert "more)" not in text
    for name in names:
        assert name in text
    lines = text.splitlines()
    assert lines[0].split() == ["IMAGE", "TAG", "CLUSTERS", "WHERE"]
    assert lines[1].split()[:3] == ["ghcr.io/acme/web", "2.0", "12"]
    # the 12 names of tag 2.0 wrap onto continuation rows with empty image/tag cells
    continuation = [line for line in lines[2:] if not line.startswith("ghcr.io")]
    assert continuation and all(line.startswith(" ") for line in continuation)
    assert max(len(line) for line in lines) <= 140
    tag_21 = next(line for line in lines if line.split()[1:2] == ["2.1"])
    assert tag_21.split()[2:] == ["2", "production-cluster-12,", "production-cluster-13"]
