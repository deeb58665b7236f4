"""HelmReleases with local charts rendered through ``helm template``.

A fake is used because no helm binary can be installed here: the tests write a small ``helm``
script into a temporary folder on PATH. It prints manifests derived from its arguments, the chart's
Chart.yaml and the values file, so every assertion below checks what fluxfleet handed to helm and
what it did with helm's output.
"""

from __future__ import annotations

import base64
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from fluxfleet.render import present
from fluxfleet.render.model import ClusterRender, KsStatus

from .helpers import cluster_repo, objects, one

CANARY = "canary-s3cret-value"

FAKE_HELM = f"""#!{sys.executable}
import json, os, stat, sys
import yaml

args = sys.argv[1:]
assert args[0] == "template", args
name, chart = args[1], args[2]
namespace = args[args.index("--namespace") + 1]
values_file = args[args.index("--values") + 1]
with open(os.path.join(os.path.dirname(values_file), "..", "helm-calls.log"), "a") as log:
    log.write(" ".join(a for a in args if a != values_file) + "\\n")
values = yaml.safe_load(open(values_file)) or {{}}
mode = oct(stat.S_IMODE(os.stat(values_file).st_mode))
if chart.endswith(".tgz"):  # a packaged chart from helm's cache
    import tarfile
    with tarfile.open(chart) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/Chart.yaml"))
        meta = yaml.safe_load(tar.extractfile(member))
else:
    meta = yaml.safe_load(open(os.path.join(chart, "Chart.yaml")))
if values.get("fail"):
    print("Error: template failed with values " + json.dumps(values), file=sys.stderr)
    sys.exit(1)
docs = [
    {{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {{"name": name + "-config"}},
      "data": {{"greeting": str(values.get("greeting")), "replicas": str(values.get("replicas")),
               "mode": "m" + mode, "values_file": values_file, "chart": meta["name"] + "-" + meta["version"],
               "release_namespace": namespace}}}},
    {{"apiVersion": "v1", "kind": "Secret", "metadata": {{"name": name + "-credentials"}},
      "data": {{"password": __import__("base64").b64encode(
          str(values.get("auth", {{}}).get("password")).encode()).decode()}}}},
    {{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {{"name": name}}}},
]
if "--include-crds" in args:
    docs.insert(0, {{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                    "metadata": {{"name": "widgets.example.com"}},
                    "spec": {{"group": "example.com", "scope": "Namespaced",
                              "names": {{"kind": "Widget", "plural": "widgets"}}}}}})
print(yaml.safe_dump_all(docs))
"""


def _helm_release(name: str, values: dict[str, Any], **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "interval": "10m",
        "chart": {
            "spec": {
                "chart": "./charts/web",
                "sourceRef": {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"},
            }
        },
        "valuesFrom": [
            {"kind": "ConfigMap", "name": "web-values"},
            {"kind": "Secret", "name": "web-auth", "valuesKey": "password", "targetPath": "auth.password"},
            {"kind": "ConfigMap", "name": "absent", "optional": True},
        ],
        "values": values,
    }
    body.update(spec)
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": "apps"},
        "spec": body,
    }


def _repo(root: Path, values: dict[str, Any], **spec: Any) -> Path:
    remote = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "remote", "namespace": "apps"},
        "spec": {
            "chart": {
                "spec": {"chart": "podinfo", "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}
            }
        },
    }
    sources = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "web-values", "namespace": "apps"},
            "data": {"values.yaml": "replicas: 1\ngreeting: hello\n"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "web-auth", "namespace": "apps"},
            "data": {"password": base64.b64encode(CANARY.encode()).decode()},
        },
    ]
    return cluster_repo(
        root,
        {"releases.yaml": [_helm_release("web", values, **spec), remote], "sources.yaml": sources},
        {
            "charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 1.2.3\n",
            "charts/web/templates/cm.yaml": "# rendered by the fake helm\n",
        },
    )


@pytest.fixture
def fake_helm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helm = bin_dir / "helm"
    helm.write_text(FAKE_HELM)
    helm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


def _entry(render: ClusterRender, name: str) -> Any:
    return next(k for k in render.kustomizations if k.kind == "HelmRelease" and k.name == name)


def test_local_chart_is_rendered_with_flux_values_order(tmp_path: Path, fake_helm: Path) -> None:
    render = one(_repo(tmp_path / "repo", {"replicas": 3}))
    assert render.errors == ()
    entry = _entry(render, "web")
    assert entry.status is KsStatus.rendered
    assert entry.source == "GitRepository/flux-system/flux-system"
    assert entry.parent == "flux-system/flux-system"
    objs = objects(render)
    config = objs["ConfigMap/apps/web-config"]  # namespace set: the chart left it out
    assert config["data"]["greeting"] == "hello"  # from valuesFrom ConfigMap
    assert config["data"]["replicas"] == "3"  # inline values win over valuesFrom
    assert config["data"]["chart"] == "web-1.2.3"
    assert config["data"]["release_namespace"] == "apps"
    assert config["data"]["mode"] == "m0o600"  # the values file is private to this user
    assert not os.path.exists(config["data"]["values_file"])  # and removed afterwards
    assert config["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"] == "web"
    secret = objs["Secret/apps/web-credentials"]
    assert base64.b64decode(secret["data"]["password"]).decode() == CANARY  # targetPath from a Secret
    assert "ClusterRole/web" in objs  # cluster-scoped: no namespace added
    assert "CustomResourceDefinition/widgets.example.com" in objs  # install.crds defaults to Create
    owners = {o.source.kustomization for o in entry.objects}
    assert owners == {"apps/web"}
    releases = {h.name: h for h in render.helmreleases}
    assert releases["web"].rendered
    assert not releases["remote"].rendered
    assert "HelmRepository/apps/podinfo" in releases["remote"].reason
    assert list(fake_helm.iterdir()) == [fake_helm / "helm-calls.log"]  # no scratch folder left behind


def test_build_output_masks_the_secret_values_that_reached_the_chart(tmp_path: Path, fake_helm: Path) -> None:
    render = one(_repo(tmp_path / "repo", {"replicas": 3}))
    text = present.yaml_stream([render])
    assert "web-config" in text
    assert CANARY not in text
    assert base64.b64encode(CANARY.encode()).decode() not in text


def test_crds_skipped_and_target_namespace_used(tmp_path: Path, fake_helm: Path) -> None:
    render = one(_repo(tmp_path / "repo", {}, install={"crds": "Skip"}, targetNamespace="web-ns"))
    objs = objects(render)
    assert "CustomResourceDefinition/widgets.example.com" not in objs
    assert objs["ConfigMap/web-ns/web-ns-web-config"]["data"]["release_namespace"] == "web-ns"
    calls = (fake_helm / "helm-calls.log").read_text()
    assert "template web-ns-web" in calls and "--include-crds" not in calls


def test_a_failing_chart_is_an_error_that_never_shows_values(tmp_path: Path, fake_helm: Path) -> None:
    render = one(_repo(tmp_path / "repo", {"fail": True}))
    entry = _entry(render, "web")
    assert entry.status is KsStatus.failed
    assert entry.objects == ()
    messages = [e.message for e in render.errors]
    assert any("helm template failed" in m for m in messages), messages
    assert all(CANARY not in m for m in messages)
    assert any("***" in m for m in messages)  # helm echoed the Secret value; it was blanked out
    assert list(fake_helm.iterdir()) == [fake_helm / "helm-calls.log"]


def test_missing_values_source_is_listed_not_rendered(tmp_path: Path, fake_helm: Path) -> None:
    repo = _repo(tmp_path / "repo", {})
    (repo / "clusters/test/sources.yaml").write_text("# the values live only in the cluster\n")
    render = one(repo)
    web = {h.name: h for h in render.helmreleases}["web"]
    assert not web.rendered
    assert "ConfigMap/web-values" in web.reason
    assert not any(k.kind == "HelmRelease" for k in render.kustomizations)
    assert not (fake_helm / "helm-calls.log").exists()


def test_without_helm_charts_are_listed_as_not_rendered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    render = one(_repo(tmp_path / "repo", {"replicas": 3}))
    releases = {h.name: h for h in render.helmreleases}
    assert releases["web"].reason == "not rendered: no helm binary found"
    assert not any(k.kind == "HelmRelease" for k in render.kustomizations)
    assert "ConfigMap/apps/web-config" not in objects(render)


def test_values_merge_target_path_and_release_name() -> None:
    from fluxfleet.render.helm import NotRendered, merge_maps, release_name, set_path

    assert merge_maps({"a": {"b": 1, "c": 2}, "l": [1]}, {"a": {"c": 3}, "l": [2]}) == {
        "a": {"b": 1, "c": 3},
        "l": [2],
    }
    assert set_path({"a": {"x": 1}}, "a.b\\.c.d", "v") == {"a": {"x": 1, "b.c": {"d": "v"}}}
    with pytest.raises(NotRendered):
        set_path({}, "a[0].b", "v")
    hr = {"metadata": {"name": "web", "namespace": "apps"}, "spec": {"targetNamespace": "t"}}
    assert release_name(hr) == "t-web"
    assert release_name({"metadata": {"name": "web"}, "spec": {"releaseName": "r"}}) == "r"
    long = release_name({"metadata": {"name": "x" * 60}, "spec": {}})
    assert len(long) <= 53


def test_a_pinned_chart_in_helms_cache_is_rendered(
    tmp_path: Path, fake_helm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import tarfile

    from fluxfleet.render.helm import helm_cache_dir

    cache = tmp_path / "helm-cache"
    cache.mkdir()
    monkeypatch.setenv("HELM_REPOSITORY_CACHE", str(cache))
    assert helm_cache_dir() == cache
    pinned = {
        "chart": {
            "spec": {
                "chart": "podinfo",
                "version": "6.7.1",
                "sourceRef": {"kind": "HelmRepository", "name": "podinfo"},
            }
        }
    }
    repo = _repo(tmp_path / "repo", {}, **pinned)
    render = one(repo)
    web = next(h for h in render.helmreleases if h.name == "web")
    assert not web.rendered and "helm pull" in web.reason and str(cache) in web.reason
    chart_yaml = b"apiVersion: v2\nname: podinfo\nversion: 6.7.1\n"
    with tarfile.open(cache / "podinfo-6.7.1.tgz", "w:gz") as tar:
        info = tarfile.TarInfo("podinfo/Chart.yaml")
        info.size = len(chart_yaml)
        tar.addfile(info, io.BytesIO(chart_yaml))
    render = one(repo)
    assert _entry(render, "web").status is KsStatus.rendered
    assert objects(render)["ConfigMap/apps/web-config"]["data"]["chart"] == "podinfo-6.7.1"
    remote = next(h for h in render.helmreleases if h.name == "remote")  # no version: never looked up
    assert not remote.rendered and "exact version" in remote.reason
