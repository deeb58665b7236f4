"""Flux's in-place edits of kustomization.yaml, one field at a time, and the generated file."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluxfleet.render.files import FileTree
from fluxfleet.render.kustfile import EditError, SpecEdits, apply_edits, merge_images
from fluxfleet.render.plan import PlanError, plan_build

from .helpers import write

BASE = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": ["a.yaml"]}


def _edit(**spec: object) -> dict[str, object]:
    return apply_edits(
        BASE | {"namespace": "orig", "namePrefix": "x-", "patches": [{"path": "p.yaml"}]},
        SpecEdits.from_spec(spec),
        existing_file=True,
    )


def test_target_namespace_name_prefix_and_suffix_replace() -> None:
    out = _edit(targetNamespace="target", namePrefix="p-", nameSuffix="-s")
    assert (out["namespace"], out["namePrefix"], out["nameSuffix"]) == ("target", "p-", "-s")


def test_patches_are_appended_after_the_files_own() -> None:
    patch = {"patch": "- op: add\n  path: /x\n  value: 1\n", "target": {"kind": "ConfigMap"}}
    assert _edit(patches=[patch])["patches"] == [{"path": "p.yaml"}, patch]


def test_components_are_appended_and_must_be_local_and_relative() -> None:
    out = apply_edits(
        BASE | {"components": ["../own"]}, SpecEdits.from_spec({"components": ["../c1"]}), existing_file=True
    )
    assert out["components"] == ["../own", "../c1"]
    for bad in ("https://github.com/x/y", "git::ssh://x", "GitHub.com/x", "/abs/path", "git@github.com:x/y"):
        with pytest.raises(EditError, match=f"component path '{bad}' must be local and relative"):
            apply_edits(BASE, SpecEdits.from_spec({"components": [bad]}), existing_file=True)


def test_missing_components_skipped_only_with_ignore_missing_components() -> None:
    edits = SpecEdits.from_spec({"components": ["../gone", "../here"], "ignoreMissingComponents": True})
    out = apply_edits(BASE, edits, existing_file=True, component_exists=lambda c: c == "../here")
    assert out["components"] == ["../here"]
    out = apply_edits(
        BASE,
        SpecEdits.from_spec({"components": ["../gone"]}),
        existing_file=True,
        component_exists=lambda c: False,
    )
    assert out["components"] == ["../gone"]


@pytest.mark.parametrize(
    ("existing", "override", "expected"),
    [
        (
            {"name": "app", "newTag": "1.0"},
            {"name": "app", "newName": "reg.io/app"},
            {"name": "app", "newTag": "1.0", "newName": "reg.io/app"},
        ),
        (
            {"name": "app", "newTag": "1.0", "digest": "sha256:aa"},
            {"name": "app", "newTag": "2.0"},
            {"name": "app", "newTag": "2.0"},
        ),
        (
            {"name": "app", "newName": "x"},
            {"name": "app", "digest": "sha256:bb"},
            {"name": "app", "newName": "x", "digest": "sha256:bb"},
        ),
    ],
)
def test_images_merge_by_name_with_the_1_9_4_rule(
    existing: dict[str, str], override: dict[str, str], expected: dict[str, str]
) -> None:
    assert merge_images([existing], [override]) == [expected]


def test_new_image_names_are_appended() -> None:
    assert merge_images([{"name": "a", "newTag": "1"}], [{"name": "other", "newTag": "v3"}]) == [
        {"name": "a", "newTag": "1"},
        {"name": "other", "newTag": "v3"},
    ]


def test_build_metadata_replaces_and_no_resources_quirk_adds_origin_annotations() -> None:
    assert _edit(buildMetadata=["transformerAnnotations"])["buildMetadata"] == ["transformerAnnotations"]
    only_components = {"components": ["../c"]}
    assert apply_edits(only_components, SpecEdits(), existing_file=True)["buildMetadata"] == [
        "originAnnotations"
    ]
    assert "buildMetadata" not in apply_edits(BASE, SpecEdits(), existing_file=True)


def test_unknown_keys_are_dropped_like_fluxs_lenient_unmarshal() -> None:
    out = apply_edits(BASE | {"notAField": 1}, SpecEdits(), existing_file=True)
    assert "notAField" not in out


def test_generated_kustomization_follows_the_walk_rules(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "apps/prod/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
            "apps/prod/b/deploy.yml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
            "apps/prod/c/kustomization.yaml": "resources: [x.yaml]\n",
            "apps/prod/c/x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
            "apps/prod/d.json": "{}",
            "apps/prod/e.yaml": "# only a comment\n",
        },
    )
    plan = plan_build(FileTree(tmp_path), "apps/prod", SpecEdits())
    assert plan.kustomization["resources"] == ["./a.yaml", "./b/deploy.yml", "./c", "./e.yaml"]
    assert plan.plain  # only plain resources: assembled in-process


def test_empty_directory_generates_placeholder_namespace(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    plan = plan_build(FileTree(tmp_path), "empty", SpecEdits())
    assert plan.kustomization["namespace"] == "_placeholder"
    assert "resources" not in plan.kustomization


def test_non_kubernetes_yaml_in_a_generated_path_fails(tmp_path: Path) -> None:
    write(tmp_path, {"p/values.yaml": "replicas: 3\n"})
    with pytest.raises(PlanError, match=r"failed to decode Kubernetes YAML from p/values\.yaml"):
        plan_build(FileTree(tmp_path), "p", SpecEdits())


def test_plan_inputs_cover_referenced_files_outside_the_directory(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "base/kustomization.yaml": "resources: [d.yaml]\nconfigMapGenerator:\n- name: c\n  files: [../shared/conf.txt]\n",
            "base/d.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\n",
            "shared/conf.txt": "x=1\n",
            "shared/unrelated.txt": "nope\n",
            "overlay/kustomization.yaml": "resources: [../base]\n",
        },
    )
    plan = plan_build(FileTree(tmp_path), "overlay", SpecEdits())
    assert set(plan.files) == {"base/kustomization.yaml", "base/d.yaml", "shared/conf.txt"}
    assert plan.plain is False
