"""Changed-only diff: after a one-line change in one overlay only the Kustomizations reading it re-render."""

from __future__ import annotations

from pathlib import Path

from fluxfleet.diff.compare import compare
from fluxfleet.gitrepo.tree import read_files
from fluxfleet.render.api import RenderOptions, RenderSession
from fluxfleet.render.files import MemoryTree
from fluxfleet.usecases.fakes import RecordingEngine
from gitcmd import git
from render.helpers import DEPLOYMENT, PLACEHOLDER, cm, ks, write


def _overlay(tag: str) -> str:
    return f"resources: [../base]\nimages:\n  - name: nginx\n    newTag: '{tag}'\n"


def _fleet(root: Path) -> Path:
    files: dict[str, object] = {
        "apps/base/kustomization.yaml": "resources: [deploy.yaml]\n",
        "apps/base/deploy.yaml": DEPLOYMENT,
        "infra/cm.yaml": [cm("shared")],
    }
    for name, tag in (("a", "1.0"), ("b", "1.0"), ("c", "2.0")):
        files[f"clusters/{name}/flux-system/gotk-components.yaml"] = PLACEHOLDER
        files[f"clusters/{name}/flux-system/gotk-sync.yaml"] = PLACEHOLDER
        files[f"clusters/{name}/apps.yaml"] = [ks("apps", f"./apps/{name}"), ks("infra", "./infra")]
        files[f"apps/{name}/kustomization.yaml"] = _overlay(tag)
    write(root, files)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    return root


def test_one_line_overlay_change_re_renders_only_the_affected_kustomization(tmp_path: Path) -> None:
    repo = _fleet(tmp_path / "repo")
    overlay = repo / "apps/a/kustomization.yaml"
    overlay.write_text(overlay.read_text().replace("'1.0'", "'1.1'"))
    engine = RecordingEngine.wrapping()
    with RenderSession(RenderOptions(use_cache=False, engine=engine)) as session:
        base = session.render(repo, tree=MemoryTree(read_files(repo, "HEAD"), repo))
        # flux-system and apps per cluster; infra reads the same files everywhere: processed once
        assert len(session.walker.last_processed) == 3 + 3 + 1
        assert sorted(session.walker.last_reused) == [
            "b Kustomization/flux-system/infra",
            "c Kustomization/flux-system/infra",
        ]
        kustomize_runs = len(engine.builds)
        head = session.render(repo)
        processed, reused = session.walker.last_processed, session.walker.last_reused
        assert len(engine.builds) - kustomize_runs == 1  # only apps/a is built again
    assert processed == ["a Kustomization/flux-system/apps"]
    assert len(reused) == 8 and "b Kustomization/flux-system/apps" in reused
    result = compare(base, head)
    changed = {c.cluster: [ch.object for ch in c.changes] for c in result.clusters if c.changes}
    assert changed == {"a": ["Deployment/web"]}
    (change,) = next(c for c in result.clusters if c.cluster == "a").changes
    assert "-      - image: nginx:1.0" in change.diff and "+      - image: nginx:1.1" in change.diff
