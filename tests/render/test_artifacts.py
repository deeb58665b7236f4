"""ArtifactGenerators resolved offline: Kustomizations and HelmReleases reading their ExternalArtifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fluxfleet.render.model import KsStatus

from .helpers import DEPLOYMENT, cluster_repo, ks, objects, one

REPO_SOURCE = {"alias": "repo", "kind": "GitRepository", "name": "flux-system"}


def _generator(artifacts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "source.extensions.fluxcd.io/v1beta1",
        "kind": "ArtifactGenerator",
        "metadata": {"name": "apps", "namespace": "flux-system"},
        "spec": {"sources": [REPO_SOURCE], "artifacts": artifacts},
    }


def _from_artifact(name: str, path: str = "./") -> dict[str, Any]:
    return ks(name, path, sourceRef={"kind": "ExternalArtifact", "name": name})


def test_external_artifacts_from_generators_are_rendered(tmp_path: Path) -> None:
    generator = _generator(
        [
            {
                "name": "web",
                "copy": [
                    {"from": "@repo/apps/base/**", "to": "@artifact/", "exclude": ["*.md"]},
                    {
                        "from": "@repo/apps/prod/config.yaml",
                        "to": "@artifact/config.yaml",
                        "strategy": "Merge",
                    },
                ],
            },
            {"name": "chart", "copy": [{"from": "@repo/charts/hello/", "to": "@artifact/"}]},
            {"name": "broken", "copy": [{"from": "@repo/nowhere/*.yaml", "to": "@artifact/"}]},
        ]
    )
    release = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "hello", "namespace": "default"},
        "spec": {"chartRef": {"kind": "ExternalArtifact", "name": "chart", "namespace": "flux-system"}},
    }
    repo = cluster_repo(
        tmp_path / "repo",
        {"gen.yaml": [generator, _from_artifact("web"), _from_artifact("broken"), release]},
        {
            "apps/base/kustomization.yaml": "resources: [deployment.yaml, config.yaml]\nnamespace: web\n",
            "apps/base/deployment.yaml": DEPLOYMENT,
            "apps/base/config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n"
            "data: {a: base, b: base}\n",
            "apps/base/README.md": "not copied\n",
            "apps/prod/config.yaml": "data: {b: prod}\n",
            "charts/hello/Chart.yaml": "apiVersion: v2\nname: hello\nversion: 0.1.0\n",
            "charts/hello/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            "  name: '{{ .Release.Name }}-chart'\n",
        },
    )
    render = one(repo)
    kss = {k.ref: k for k in render.kustomizations}
    assert kss["Kustomization/flux-system/web"].status is KsStatus.rendered
    objs = objects(render)
    assert "Deployment/web/web" in objs
    assert objs["ConfigMap/web/cfg"]["data"] == {"a": "base", "b": "prod"}  # Merge strategy
    broken = kss["Kustomization/flux-system/broken"]
    assert broken.status is KsStatus.external
    assert "no files match pattern 'nowhere/*.yaml'" in (broken.reason or "")
    hello = next(h for h in render.helmreleases if h.name == "hello")
    assert hello.rendered, hello.reason
    assert "ConfigMap/default/hello-chart" in objs


def test_copy_rules() -> None:
    from fluxfleet.render.artifacts import _excluded, _selection_root

    assert _selection_root("apps/*/base/**") == "apps"
    assert _excluded("apps/x/README.md", "apps", ["*.md"])
    assert not _excluded("apps/x/a.yaml", "apps", ["*.md"])
    assert _excluded("apps/x/tests/a.yaml", "apps", ["x/tests/*"])
