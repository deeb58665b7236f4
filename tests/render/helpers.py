"""Small builders for on-disk Flux repositories used by the render and diff tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fluxfleet import yamlio
from fluxfleet.render.api import RenderOptions, RenderSession
from fluxfleet.render.model import ClusterRender


def write(root: Path, files: dict[str, str | Any]) -> Path:
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content if isinstance(content, str) else yamlio.dump_all(content), encoding="utf-8")
    return root


def ks(name: str, path: str, namespace: str = "flux-system", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "interval": "10m",
        "path": path,
        "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
    }
    body.update(spec)
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }


def cm(name: str, namespace: str = "default", **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


PLACEHOLDER = "# This file will be generated automatically by flux boostrap.\n"

# A minimal Deployment whose image overlays retag (nginx, container "web").
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx
"""


def cluster_repo(root: Path, cluster_files: dict[str, Any], other: dict[str, Any] | None = None) -> Path:
    """A repo with one cluster folder ``clusters/test`` (placeholder flux-system) plus ``other`` files."""
    files: dict[str, Any] = {
        "clusters/test/flux-system/gotk-components.yaml": PLACEHOLDER,
        "clusters/test/flux-system/gotk-sync.yaml": PLACEHOLDER,
    }
    files.update({f"clusters/test/{k}": v for k, v in cluster_files.items()})
    files.update(other or {})
    return write(root, files)


def render(repo: Path, **options: Any) -> list[ClusterRender]:
    opts = RenderOptions(use_cache=options.pop("use_cache", False), **options)
    with RenderSession(opts) as session:
        return session.render(repo)


def one(repo: Path, **options: Any) -> ClusterRender:
    renders = render(repo, **options)
    assert len(renders) == 1, [r.cluster for r in renders]
    return renders[0]


def by_id(render: ClusterRender) -> dict[str, Any]:
    return {k.id: k for k in render.kustomizations}


def objects(render: ClusterRender) -> dict[str, dict[str, Any]]:
    return {str(o.key): o.body for o in render.objects}
