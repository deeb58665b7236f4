"""Clusters bootstrapped by the Flux Operator (FluxInstance ``spec.sync``), found without fleet.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fluxfleet.cli.main import main

from .helpers import by_id, cm, ks, objects, render, write


def _instance(path: str, **sync: Any) -> dict[str, Any]:
    return {
        "apiVersion": "fluxcd.controlplane.io/v1",
        "kind": "FluxInstance",
        "metadata": {"name": "flux", "namespace": "flux-system"},
        "spec": {
            "distribution": {"version": "2.x", "registry": "ghcr.io/fluxcd"},
            "sync": {
                "kind": "GitRepository",
                "url": "https://example.com/fleet.git",
                "ref": "refs/heads/main",
                "path": path,
                **sync,
            },
        },
    }


def _chart_release(path: str) -> dict[str, Any]:
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "flux", "namespace": "flux-system"},
        "spec": {
            "chartRef": {"kind": "OCIRepository", "name": "flux-instance"},
            "values": {
                "instance": {
                    "sync": {
                        "kind": "GitRepository",
                        "url": "https://example.com/x.git",
                        "ref": "refs/heads/main",
                        "path": path,
                        "name": "fleet",
                    }
                }
            },
        },
    }


def test_flux_instance_object_makes_its_sync_path_a_cluster(tmp_path: Path) -> None:
    repo = write(
        tmp_path / "repo",
        {
            "clusters/staging/flux-instance.yaml": [_instance("clusters/staging")],
            "clusters/staging/apps.yaml": [ks("apps", "./apps/staging")],
            "apps/staging/cm.yaml": [cm("hello", "default", greeting="hi")],
            "clusters/production/flux-instance.yaml": [_instance("./clusters/production", name="prod")],
            "clusters/production/cm.yaml": [cm("prod-only")],
        },
    )
    renders = {r.cluster: r for r in render(repo)}
    assert sorted(renders) == ["production", "staging"]
    staging = renders["staging"]
    assert staging.errors == ()
    root = by_id(staging)["flux-system/flux-system"]  # named after the namespace, as the operator does
    assert root.spec["path"] == "clusters/staging" and root.spec["prune"] is True
    assert root.spec["interval"] == "10m0s"
    assert root.spec["sourceRef"] == {"kind": "GitRepository", "name": "flux-system"}
    assert "ConfigMap/default/hello" in objects(staging)  # through the apps Kustomization
    production = renders["production"]
    assert "flux-system/prod" in by_id(production)  # sync.name names source and Kustomization
    assert "ConfigMap/default/prod-only" in objects(production)


def test_flux_instance_chart_values_in_a_helmrelease(tmp_path: Path) -> None:
    repo = write(
        tmp_path / "repo",
        {
            "clusters/edge/flux-system/flux.yaml": [_chart_release("clusters/edge")],
            "clusters/edge/cm.yaml": [cm("edge")],
            "clusters/nowhere/flux.yaml": [_chart_release("../outside")],  # leaves the repo: ignored
        },
    )
    renders = {r.cluster: r for r in render(repo)}
    assert sorted(renders) == ["edge"]
    assert "flux-system/fleet" in by_id(renders["edge"])
    assert "ConfigMap/default/edge" in objects(renders["edge"])


def test_no_clusters_found_names_every_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = write(tmp_path / "repo", {"apps/cm.yaml": [cm("x")]})
    assert main(["build", "-C", str(repo)]) == 2
    err = capsys.readouterr().err
    for layout in ("fleet.yaml", "flux bootstrap", "gotk-", "FluxInstance", "flux-instance chart", "--path"):
        assert layout in err, err
