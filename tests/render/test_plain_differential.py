"""In-process builds equal kustomize's, folder by folder (issue 16).

Every folder of the fixture repositories and of the generated example fleet that fluxfleet would
assemble in-process (plain resources, and the inline JSON 6902 patches ``generate`` writes for
``flux-system``) is also built by the real kustomize; objects and their files must be identical.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from fluxfleet.cli.main import main
from fluxfleet.errors import FleetError
from fluxfleet.render.builder import Builder
from fluxfleet.render.files import FileTree
from fluxfleet.render.jsonpatch import NotApplicable
from fluxfleet.render.kustfile import SpecEdits
from fluxfleet.render.plan import PlanError, plain_objects, plan_build

pytestmark = pytest.mark.slow


def _folders(repo: Path) -> list[str]:
    out = []
    for here, dirs, _ in os.walk(repo):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel = Path(here).relative_to(repo).as_posix()
        out.append("" if rel == "." else rel)
    return out


def _compare(repo: Path) -> dict[str, int]:
    tree = FileTree(repo)
    counts = {"compared": 0, "patched": 0, "fallback": 0}
    with Builder() as builder:
        engine = builder.engine()
        for folder in _folders(repo):
            try:
                plan = plan_build(tree, folder, SpecEdits())
            except (PlanError, FleetError):
                continue
            if not plan.plain or plan.remote:
                continue
            try:
                mine: list[tuple[dict[str, Any], str | None]] | None = [
                    (body, rel) for body, rel, _ in plain_objects(tree, plan)
                ]
            except NotApplicable:
                mine = None
            except PlanError as exc:
                mine = [({"error": str(exc)}, None)]
            theirs = builder._kustomize(tree, plan, plan.content_key(engine.id), engine)
            if mine is None:
                counts["fallback"] += 1
                continue
            if theirs.error is not None:
                assert len(mine) == 1 and "error" in mine[0][0], f"{repo.name}/{folder}: {theirs.error}"
                continue
            assert mine == list(theirs.objects), f"{repo.name}/{folder} differs from kustomize"
            counts["compared"] += 1
            counts["patched"] += "patches" in plan.kustomization or any(
                "patches" in (tree.docs(f)[0] or {})
                for f in plan.files
                if f.rsplit("/", 1)[-1] in ("kustomization.yaml", "kustomization.yml", "Kustomization")
            )
    return counts


def test_fixture_repo_folders_build_in_process_as_kustomize_does(fixture_repos: Path) -> None:
    compared = 0
    for repo in sorted(p for p in fixture_repos.iterdir() if p.is_dir()):
        compared += _compare(repo)["compared"]
    assert compared > 0  # some fixture folders are plain (the rest go to kustomize in any case)


CONTROLLERS = (
    "source-controller",
    "kustomize-controller",
    "helm-controller",
    "notification-controller",
    "image-reflector-controller",
    "image-automation-controller",
)


def _components() -> str:
    """Controller Deployments shaped as ``flux install --export`` writes them (args the patches extend)."""
    docs = [
        f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: flux-system
spec:
  template:
    spec:
      serviceAccountName: {name}
      containers:
      - name: manager
        image: ghcr.io/fluxcd/{name}:v1.0.0
        args:
        - --events-addr=http://notification-controller.flux-system.svc.cluster.local./
        - --watch-all-namespaces=true
"""
        for name in CONTROLLERS
    ]
    return "---\n".join(docs)


def test_example_fleet_folders_build_in_process_as_kustomize_does(tmp_path: Path) -> None:
    repo = tmp_path / "fleet"
    components = tmp_path / "gotk-components.yaml"
    components.write_text(_components())
    assert main(["init", "--example", str(repo)]) == 0
    assert main(["generate", "-C", str(repo), "--flux-components", str(components)]) == 0
    counts = _compare(repo)
    # The 9 clusters' flux-system folders (and the cluster roots above them) carry generate's
    # patches: they are the builds that used to cost a kustomize process per cluster.
    assert counts["patched"] >= 18
    assert counts["fallback"] == 0
