"""Per-cluster reuse and the persistent render cache give exactly what a full render gives."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fluxfleet.cli.main import main
from fluxfleet.render.api import RenderOptions, RenderSession
from fluxfleet.render.model import ClusterRender
from fluxfleet.render.revcache import RevisionCache, _render_to
from fluxfleet.usecases.fakes import RecordingEngine
from fluxfleet.usecases.render import render_stored, render_workspace
from fluxfleet.usecases.workspace import Workspace
from gitcmd import git
from render.helpers import DEPLOYMENT, PLACEHOLDER, cm, ks, write

SUBST = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\ndata:\n  text: ${GREETING}\n"
CANARY = "canary-value-7f3a9"


def _commit(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)
    return git(root, "rev-parse", "HEAD").strip()


def _repo(root: Path, secret: bool = False) -> tuple[Path, str]:
    files: dict[str, Any] = {
        "apps/base/kustomization.yaml": "resources: [deploy.yaml]\n",
        "apps/base/deploy.yaml": DEPLOYMENT,
        "plain/one.yaml": [cm("one")],  # no kustomization.yaml: Flux generates one from the listing
        "vars/vars.yaml": [cm("vars", "flux-system", GREETING="hello")],
        "subst/cm.yaml": SUBST,
    }
    if secret:
        files["vars/secret.yaml"] = (
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: default\n"
            f"stringData:\n  password: {CANARY}\n"
        )
    extra = {
        "a": [],
        "b": [ks("plain", "./plain")],
        "c": [
            ks("vars", "./vars"),
            ks("subst", "./subst", postBuild={"substituteFrom": [{"kind": "ConfigMap", "name": "vars"}]}),
        ],
    }
    for name in ("a", "b", "c"):
        files[f"clusters/{name}/flux-system/gotk-components.yaml"] = PLACEHOLDER
        files[f"clusters/{name}/flux-system/gotk-sync.yaml"] = PLACEHOLDER
        files[f"clusters/{name}/apps.yaml"] = [ks("apps", f"./apps/{name}"), *extra[name]]
        files[f"apps/{name}/kustomization.yaml"] = (
            "resources: [../base]\nimages:\n  - name: nginx\n    newTag: '1.0'\n"
        )
    write(root, files)
    git(root, "init", "-q", "-b", "main")
    return root, _commit(root, "base")


def _fleet_repo(root: Path) -> tuple[Path, str]:
    root.mkdir(parents=True)
    (root / "fleet.yaml").write_text(
        "apiVersion: fluxfleet.dev/v1alpha1\nkind: Fleet\nmetadata: {name: t}\nspec:\n"
        "  source: {url: 'https://example.com/fleet.git'}\n"
        "  environments: [{name: dev}]\n"
        "  clusters:\n"
        "    - {name: one, labels: {environment: dev, region: r1, tier: a}}\n"
        "    - {name: two, labels: {environment: dev, region: r2, tier: a}}\n"
        "  platform: []\n"
        "  apps:\n"
        "    - {name: web, namespace: web, images: [ghcr.io/example/web], versions: {dev: v1.0.0}}\n"
    )
    assert main(["generate", "-C", str(root)]) == 0
    git(root, "init", "-q", "-b", "main")
    return root, _commit(root, "base")


def _data(renders: list[ClusterRender], builds: bool = True) -> list[dict[str, Any]]:
    """Everything a render holds, object bodies included (K8sObject equality leaves bodies out).

    ``builds=False`` leaves out how each build was obtained (kustomize, or the build cache).
    """
    out = [_render_to(r) for r in renders]
    if not builds:
        for cluster in out:
            for ks in cluster["kustomizations"]:
                del ks["build"]
    return out


def _diff_pair(
    repo: Path, base: str, reuse: bool
) -> tuple[list[ClusterRender], list[ClusterRender], list[str]]:
    with RenderSession(RenderOptions(use_cache=False, reuse_clusters=reuse)) as session:
        old = render_workspace(session, Workspace.open(repo, base))
        new = render_workspace(session, Workspace.open(repo))
        return old, new, session.walker.last_reused_clusters


def _edit(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        target = root / rel
        target.write_text(target.read_text().replace(old, new))

    return change


CHANGES: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "overlay edit": (_edit("apps/a/kustomization.yaml", "'1.0'", "'1.1'"), ["b", "c"]),
    "new file in a folder without kustomization.yaml": (
        lambda root: write(root, {"plain/two.yaml": [cm("two")]}) and None,
        ["a", "c"],
    ),
    "changed substituteFrom ConfigMap": (_edit("vars/vars.yaml", "hello", "bonjour"), ["a", "b"]),
    "deleted cluster folder": (lambda root: shutil.rmtree(root / "clusters/c"), ["a", "b"]),
}


@pytest.mark.parametrize("kind", list(CHANGES))
def test_reuse_equals_full_render(tmp_path: Path, kind: str) -> None:
    repo, base = _repo(tmp_path / "repo")
    change, expected_reused = CHANGES[kind]
    change(repo)
    _commit(repo, kind)
    old_on, new_on, reused = _diff_pair(repo, base, reuse=True)
    old_off, new_off, _ = _diff_pair(repo, base, reuse=False)
    assert reused == expected_reused
    assert old_on == old_off and new_on == new_off
    assert _data(old_on) == _data(old_off) and _data(new_on) == _data(new_off)
    assert _data(new_on) != _data(old_on)  # the change is visible


def test_fleet_label_change_is_not_reused(tmp_path: Path) -> None:
    repo, base = _fleet_repo(tmp_path / "repo")
    fleet = repo / "fleet.yaml"
    fleet.write_text(fleet.read_text().replace("region: r2, tier: a", "region: r2, tier: b"))
    _commit(repo, "label")
    _, new_on, reused = _diff_pair(repo, base, reuse=True)
    _, new_off, _ = _diff_pair(repo, base, reuse=False)
    assert reused == ["one"]
    assert new_on == new_off and _data(new_on) == _data(new_off)
    assert {r.cluster: r.labels.get("tier") for r in new_on} == {"one": "a", "two": "b"}


def _stored(session: RenderSession, repo: Path, rev: str) -> list[ClusterRender]:
    return render_stored(session, Workspace.open(repo, rev), ())


def test_persistent_revision_cache(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path / "repo")
    _edit("apps/a/kustomization.yaml", "'1.0'", "'1.1'")(repo)
    cache = tmp_path / "cache"
    with RenderSession(RenderOptions(use_cache=False)) as fresh:
        expected_base = render_workspace(fresh, Workspace.open(repo, base))
        expected_head = render_workspace(fresh, Workspace.open(repo))
    with RenderSession(RenderOptions(cache_dir=cache)) as first:
        assert _data(_stored(first, repo, base)) == _data(expected_base)
    entries = list((cache / "renders").rglob("*.json"))
    assert len(entries) == 1
    engine = RecordingEngine.wrapping()
    with RenderSession(RenderOptions(cache_dir=cache, engine=engine)) as second:
        loaded = _stored(second, repo, base)
        assert engine.builds == []  # nothing was rendered
        assert loaded == expected_base and _data(loaded) == _data(expected_base)
        head = render_workspace(second, Workspace.open(repo))
        assert second.walker.last_reused_clusters == ["b", "c"]
        assert head == expected_head and _data(head) == _data(expected_head)
    # A damaged entry is a miss, and the render still comes out right.
    entries[0].write_text('{"format": "v1", "clusters": [{"spec": 1}]')
    engine = RecordingEngine.wrapping()
    with RenderSession(RenderOptions(cache_dir=cache / "damaged-only", engine=engine)) as third:
        third.revisions = RevisionCache(cache / "renders")  # the damaged entry, a cold build cache
        assert _data(_stored(third, repo, base), False) == _data(expected_base, False)
        assert engine.builds != []


def test_revision_with_secret_values_is_not_stored(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path / "repo", secret=True)
    cache = tmp_path / "cache"
    with RenderSession(RenderOptions(cache_dir=cache)) as session:
        renders = _stored(session, repo, base)
    assert any(o.key.kind == "Secret" for r in renders for o in r.objects)
    stored = cache / "renders"
    assert not stored.exists() or not any(p.is_file() for p in stored.rglob("*"))


def test_diff_output_identical_with_warm_cache(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo, _ = _repo(tmp_path / "repo")
    _edit("apps/a/kustomization.yaml", "'1.0'", "'1.1'")(repo)
    _edit("vars/vars.yaml", "hello", "bonjour")(repo)
    outputs = []
    for extra in ([], [], ["--no-cache"]):
        code = main(["diff", "-C", str(repo), "-o", "json", *extra])
        out, _ = capsys.readouterr()
        outputs.append((code, out))
    assert outputs[0][0] == 1 and "bonjour" in outputs[0][1]
    assert outputs[0] == outputs[1] == outputs[2]
