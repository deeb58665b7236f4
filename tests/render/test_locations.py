"""Where things are: the start line of each rendered object's document, and file:line:col of errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fluxfleet.cli.main import main
from fluxfleet.render.files import MemoryTree
from fluxfleet.render.lines import LineIndex
from fluxfleet.render.model import RenderError

from .helpers import by_id, cluster_repo, ks, one

DEPLOYMENT = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  a: b
---
# the web app
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:latest
"""
DEPLOYMENT_LINE = 9  # "apiVersion: apps/v1" of the second document


def _repo(root: Path, overlay: str = "resources: [../base]\n") -> Path:
    return cluster_repo(
        root,
        {"apps.yaml": [ks("plain", "./base"), ks("over", "./over")]},
        {
            "base/kustomization.yaml": "resources: [app.yaml]\n",
            "base/app.yaml": DEPLOYMENT,
            "over/kustomization.yaml": overlay,
        },
    )


def _lines(render_ks: object) -> dict[str, int | None]:
    return {str(o.key): o.source.line for o in render_ks.objects}  # type: ignore[attr-defined]


def test_plain_build_objects_carry_their_document_line(tmp_path: Path) -> None:
    render = one(_repo(tmp_path))
    plain = by_id(render)["flux-system/plain"]
    assert plain.build == "in-process"
    assert _lines(plain) == {"ConfigMap/settings": 1, "Deployment/web": DEPLOYMENT_LINE}
    # the Kustomization objects themselves point at their documents in clusters/test/apps.yaml
    assert by_id(render)["flux-system/over"].file == "clusters/test/apps.yaml"
    assert by_id(render)["flux-system/over"].line == 15  # dump_all starts each document with "---"


def test_kustomize_built_objects_keep_the_line_of_their_original_document(tmp_path: Path) -> None:
    overlay = (
        "resources: [../base]\n"
        "namePrefix: x-\n"
        "patches:\n"
        "  - patch: |\n"
        "      apiVersion: apps/v1\n"
        "      kind: Deployment\n"
        "      metadata: {name: web}\n"
        "      spec: {replicas: 3}\n"
        "configMapGenerator:\n"
        "  - name: generated\n"
        "    literals: [k=v]\n"
    )
    render = one(_repo(tmp_path, overlay))
    over = by_id(render)["flux-system/over"]
    assert over.build == "kustomize"
    deploy = next(o for o in over.objects if o.key.kind == "Deployment")
    assert deploy.body["spec"]["replicas"] == 3 and deploy.key.name == "x-web"
    assert (deploy.source.file, deploy.source.line) == ("base/app.yaml", DEPLOYMENT_LINE)
    settings = next(o for o in over.objects if o.key.name == "x-settings")
    assert settings.source.line == 1
    generated = next(o for o in over.objects if o.key.name.startswith("x-generated-"))
    assert generated.source.line is None  # no document describes a generated object


def test_check_json_and_sarif_report_the_line_of_a_failing_deployment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(tmp_path)
    code = main(["check", "-C", str(repo), "-r", "image-tag-pinned", "-o", "json"])
    out = capsys.readouterr().out
    assert code == 1
    findings = [f for f in json.loads(out)["findings"] if f["rule"] == "image-tag-pinned"]
    assert findings and all(f["file"] == "base/app.yaml" for f in findings)
    assert {f["line"] for f in findings} == {DEPLOYMENT_LINE}
    main(["check", "-C", str(repo), "-r", "image-tag-pinned", "-o", "sarif"])
    sarif = json.loads(capsys.readouterr().out)
    locations = [r["locations"][0]["physicalLocation"] for r in sarif["runs"][0]["results"]]
    assert locations and all(
        loc["artifactLocation"]["uri"].endswith("base/app.yaml")
        and loc["region"]["startLine"] == DEPLOYMENT_LINE
        for loc in locations
    )


def test_render_error_prints_file_line_column_and_json_has_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = cluster_repo(
        tmp_path,
        {"gen.yaml": [ks("gen", "./gen")]},
        {"gen/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n"},
    )
    (error,) = one(repo).errors
    assert (error.file, error.line, error.column) == ("gen/a.yaml", 5, 1)
    assert str(error).startswith("test flux-system/gen gen/a.yaml:5:1: failed to decode")
    code = main(["get", "kustomizations", "-C", str(repo), "-o", "json"])
    captured = capsys.readouterr()
    assert code == 1
    (data,) = json.loads(captured.out)["errors"]
    assert (data["file"], data["line"], data["column"]) == ("gen/a.yaml", 5, 1)
    assert "gen/a.yaml:5:1: failed to decode" in captured.err


def test_render_error_defaults_stay_compatible() -> None:
    error = RenderError("c1", "boom", "ns/ks", "a.yaml")
    assert (error.line, error.column) == (None, None)
    assert str(error) == "c1 ns/ks a.yaml: boom"
    assert str(RenderError("c1", "boom", None, "a.yaml", 3)) == "c1 a.yaml:3: boom"


def test_malformed_base_kustomization_is_named_not_the_flux_kustomization(tmp_path: Path) -> None:
    repo = cluster_repo(
        tmp_path,
        {"x.yaml": [ks("x", "./apps/x/overlay")]},
        {
            "apps/x/overlay/kustomization.yaml": "resources: [../base]\n",
            "apps/x/base/kustomization.yaml": "# base\nresources: notalist\n",
        },
    )
    render = one(repo)
    (error,) = render.errors
    assert error.message == "invalid kustomization: resources must be a list"
    assert (error.file, error.line) == ("apps/x/base/kustomization.yaml", 2)
    assert by_id(render)["flux-system/x"].status == "failed"


def test_kustomization_without_spec_or_source_ref_fails_with_a_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_spec = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "nospec", "namespace": "flux-system"},
        "spec": None,
    }
    no_ref = ks("noref", "./x")
    del no_ref["spec"]["sourceRef"]
    no_name = ks("noname", "./x", sourceRef={"kind": "GitRepository"})
    repo = cluster_repo(tmp_path, {"bad.yaml": [no_spec, no_ref, no_name]}, {"x/cm.yaml": "# empty\n"})
    render = one(repo)
    kss = by_id(render)
    assert kss["flux-system/nospec"].status == "failed"
    assert kss["flux-system/nospec"].reason == "invalid Kustomization: spec is missing or not a mapping"
    assert "spec.sourceRef is missing" in (kss["flux-system/noref"].reason or "")
    assert "spec.sourceRef.name is missing" in (kss["flux-system/noname"].reason or "")
    assert len(render.errors) == 3 and all(e.file == "clusters/test/bad.yaml" for e in render.errors)
    code = main(["get", "kustomizations", "-C", str(repo)])
    captured = capsys.readouterr()
    assert code == 1
    assert "external" not in captured.out and "--source =PATH" not in captured.out
    assert "invalid Kustomization: spec is missing" in captured.err


def test_line_index_follows_document_markers_and_falls_back_to_marks(tmp_path: Path) -> None:
    files = {
        "a.yaml": b"# head\n---\napiVersion: v1\nkind: A\n---\n\n# x\nkind: B\n--- {kind: C}\n...\n---\nkind: D\n",
        # an explicit null document: the parser drops it, so the scan disagrees and marks decide
        "b.yaml": b"kind: A\n--- null\n---\n# c\nkind: B\nmetadata: {name: b}\n",
    }
    tree = MemoryTree(files, tmp_path)
    index = LineIndex()
    assert [index.at(tree, "a.yaml", i) for i in range(5)] == [3, 8, 9, 12, None]
    assert index.at(tree, "b.yaml", 1) == 5
    assert index.find(tree, "b.yaml", {"kind": "B", "metadata": {"name": "b"}}) == 5
    assert index.find(tree, "b.yaml", {"kind": "B", "metadata": {"name": "x-b"}}) == 5  # renamed
    assert index.find(tree, "b.yaml", {"kind": "ConfigMap", "metadata": {"name": "b"}}) is None
