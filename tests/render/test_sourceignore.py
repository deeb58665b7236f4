"""`.sourceignore` and source-controller's default exclusions decide which files a source holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluxfleet.render.files import FileTree, MemoryTree
from fluxfleet.render.sourceignore import Pattern, SourceIgnore, read_patterns

from .helpers import cluster_repo, cm, ks, one


@pytest.mark.parametrize(
    ("rel", "excluded"),
    [
        (".gitignore", True),
        ("apps/.gitmodules", True),
        ("logo.png", True),
        ("docs/img/shot.JPG", False),  # Go's filepath.Match is case-sensitive
        ("release.tar.gz", True),
        (".github/workflows/ci.yaml", True),
        ("apps/.github/x.yaml", True),  # a name pattern matches any part of the path
        ("apps/.sops.yaml", True),
        (".sops.yaml", True),
        ("clusters/.flux.yaml", True),
        ("cloudbuild.yaml", True),
        ("apps/cloudbuild.yaml.bak", False),
        ("apps/app.yaml", False),
    ],
)
def test_default_exclusions(rel: str, excluded: bool) -> None:
    assert SourceIgnore([]).excluded(rel) is excluded


def test_a_repository_pattern_replaces_the_defaults_but_never_the_vcs_ones() -> None:
    ignore = SourceIgnore(read_patterns("# docs only\n\ndocs/\n"))
    assert ignore.excluded("docs/readme.yaml")
    assert not ignore.excluded("logo.png")  # the extension defaults no longer apply
    assert ignore.excluded(".gitignore")


@pytest.mark.parametrize(
    ("patterns", "rel", "excluded"),
    [
        ("*.txt\n!keep.txt\n", "a/keep.txt", False),
        ("*.txt\n!keep.txt\n", "a/drop.txt", True),
        ("/top.yaml\n", "top.yaml", True),
        ("/top.yaml\n", "sub/top.yaml", False),
        ("apps/**/secret.yaml\n", "apps/a/b/secret.yaml", True),
        ("apps/**/secret.yaml\n", "other/a/secret.yaml", False),
        ("build/\n", "build", False),  # a folder pattern does not match a file of that name
        ("build/\n", "build/out.yaml", True),
        ("[ab].yaml\n", "a.yaml", True),
        ("[^ab].yaml\n", "a.yaml", False),
        ("[^ab].yaml\n", "c.yaml", True),
        ("file?.yaml\n", "file1.yaml", True),
        ("trailing.yaml   \n", "trailing.yaml", True),
    ],
)
def test_gitignore_patterns_as_flux_matches_them(patterns: str, rel: str, excluded: bool) -> None:
    assert SourceIgnore(read_patterns(patterns)).excluded(rel) is excluded


def test_a_nested_sourceignore_is_scoped_to_its_folder() -> None:
    nested = read_patterns("*.yaml\n", ("apps",))
    ignore = SourceIgnore(nested)
    assert ignore.excluded("apps/x.yaml") and ignore.excluded("apps/sub/y.yaml")
    assert not ignore.excluded("clusters/x.yaml")
    assert Pattern.parse("x", ("apps",)).match(("apps",), True) is None  # the folder itself: no say


def _repo(tmp_path: Path, extra: dict[str, str]) -> Path:
    files: dict[str, object] = {
        "apps/plain/a.yaml": [cm("a")],
        "apps/plain/b.yaml": [cm("b")],
        "apps/plain/.github/c.yaml": [cm("c")],
    }
    files.update(extra)
    return cluster_repo(tmp_path, {"apps.yaml": [ks("apps", "./apps/plain")]}, files)  # type: ignore[arg-type]


def _names(repo: Path) -> set[str]:
    render = one(repo)
    return {o.body["metadata"]["name"] for o in render.objects if o.body.get("kind") == "ConfigMap"}


def test_the_render_sees_only_what_the_artifact_holds(tmp_path: Path) -> None:
    assert _names(_repo(tmp_path / "defaults", {})) == {"a", "b"}  # .github/ is a default exclusion
    repo = _repo(tmp_path / "own", {"apps/plain/.sourceignore": "b.yaml\n"})
    assert _names(repo) == {"a", "c"}  # its own pattern: b gone, and the CI defaults are off


def test_a_listed_file_that_is_ignored_is_missing_for_the_build(tmp_path: Path) -> None:
    repo = cluster_repo(
        tmp_path,
        {"apps.yaml": [ks("apps", "./apps")]},
        {
            "apps/kustomization.yaml": "resources: [cm.yaml, hidden.yaml]\n",
            "apps/cm.yaml": [cm("a")],
            "apps/hidden.yaml": [cm("h")],
            ".sourceignore": "hidden.yaml\n",
        },
    )
    render = one(repo)
    assert any("hidden.yaml" in str(e) for e in render.errors), render.errors


def test_a_git_revision_tree_applies_the_same_rules(tmp_path: Path) -> None:
    files = {
        "apps/a.yaml": b"x",
        "apps/b.png": b"x",
        "apps/keep/.sourceignore": b"drop.yaml\n",
        "apps/keep/drop.yaml": b"x",
        "apps/keep/stay.yaml": b"x",
    }
    tree = MemoryTree(files, tmp_path)
    assert tree.walk_files("apps") == [
        "apps/a.yaml",
        "apps/b.png",
        "apps/keep/.sourceignore",
        "apps/keep/stay.yaml",
    ]
    disk = tmp_path / "disk"
    for rel, data in files.items():
        (disk / rel).parent.mkdir(parents=True, exist_ok=True)
        (disk / rel).write_bytes(data)
    assert FileTree(disk).walk_files("apps") == tree.walk_files("apps")
