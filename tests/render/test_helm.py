"""HelmReleases with local charts rendered through the real ``helm template``.

helm v4.3.1 is installed into the virtualenv by ``make`` (scripts/install-helm.py). The chart
below prints what it was given (values, release name and namespace, capabilities), so every
assertion checks what fluxfleet handed to helm and what it did with helm's output.
"""

from __future__ import annotations

import base64
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fluxfleet.render import present
from fluxfleet.render.helm import find_helm
from fluxfleet.render.model import ClusterRender, KsStatus

from .helpers import cluster_repo, objects, one

CANARY = "canary-s3cret-value"

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: web\nversion: 1.2.3\n",
    "values.yaml": "greeting: default\nreplicas: 1\nimage: nginx:1.0\nauth:\n  password: none\n",
    "templates/cm.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  greeting: {{ .Values.greeting | quote }}
  replicas: {{ .Values.replicas | quote }}
  replicas_type: {{ kindOf .Values.replicas | quote }}
  chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
  release_namespace: {{ .Release.Namespace | quote }}
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  widgets_api: {{ .Capabilities.APIVersions.Has "example.com/v1/Widget" | quote }}
  items: {{ toJson (.Values.items | default list) | quote }}
{{- if .Values.fail }}{{ fail (printf "template failed with values %s" (toJson .Values)) }}{{ end }}
""",
    "templates/secret.yaml": """\
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-credentials
data:
  password: {{ .Values.auth.password | b64enc }}
""",
    "templates/role.yaml": """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ .Release.Name }}
""",
    "templates/deploy.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  template:
    spec:
      containers:
        - name: web
          image: {{ .Values.image }}
""",
    "templates/tests/probe.yaml": """\
apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations:
    helm.sh/hook: test
""",
    "crds/widgets.yaml": """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets}
  versions: [{name: v1, served: true, storage: true}]
""",
}


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
        {f"charts/web/{k}": v for k, v in CHART.items()},
    )


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The real helm, and a private temporary folder to prove nothing is left behind."""
    helm, why = find_helm()
    assert helm is not None, f"{why}: run `make` to install helm into .venv/bin"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


def _entry(render: ClusterRender, name: str) -> Any:
    return next(k for k in render.kustomizations if k.kind == "HelmRelease" and k.name == name)


def test_local_chart_is_rendered_with_flux_values_order(tmp_path: Path, scratch: Path) -> None:
    render = one(_repo(tmp_path / "repo", {"replicas": 3}))
    assert render.errors == ()
    entry = _entry(render, "web")
    assert entry.status is KsStatus.rendered
    assert entry.source == "GitRepository/flux-system/flux-system"
    assert entry.parent == "flux-system/flux-system"
    objs = objects(render)
    config = objs["ConfigMap/apps/web-config"]  # namespace set: the chart left it out
    assert config["data"]["greeting"] == "hello"  # from valuesFrom ConfigMap over the chart default
    assert config["data"]["replicas"] == "3"  # inline values win over valuesFrom
    assert config["data"]["chart"] == "web-1.2.3"
    assert config["data"]["release_namespace"] == "apps"
    assert config["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"] == "web"
    assert config["metadata"]["labels"]["helm.toolkit.fluxcd.io/namespace"] == "apps"
    secret = objs["Secret/apps/web-credentials"]
    assert base64.b64decode(secret["data"]["password"]).decode() == CANARY  # targetPath from a Secret
    assert "ClusterRole/web" in objs  # cluster-scoped: no namespace added
    crd = objs["CustomResourceDefinition/widgets.example.com"]  # install.crds defaults to Create
    assert crd["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"] == "web"
    assert "Pod/apps/web-test" not in objs  # test hooks only with spec.test.enable
    owners = {o.source.kustomization for o in entry.objects}
    assert owners == {"apps/web"}
    releases = {h.name: h for h in render.helmreleases}
    assert releases["web"].rendered
    assert not releases["remote"].rendered
    assert "HelmRepository/apps/podinfo is not in the render" in releases["remote"].reason
    assert list(scratch.iterdir()) == []  # no scratch folder left behind


def test_build_output_masks_the_secret_values_that_reached_the_chart(tmp_path: Path, scratch: Path) -> None:
    render = one(_repo(tmp_path / "repo", {"replicas": 3}))
    text = present.yaml_stream([render])
    assert "web-config" in text
    assert CANARY not in text
    assert base64.b64encode(CANARY.encode()).decode() not in text


def test_crds_skipped_target_namespace_and_kube_version(tmp_path: Path, scratch: Path) -> None:
    repo = _repo(tmp_path / "repo", {}, install={"crds": "Skip"}, targetNamespace="web-ns")
    repo.joinpath("clusters/test/widgets-crd.yaml").write_text(CHART["crds/widgets.yaml"])
    render = one(repo, kube_version="v1.31.4")
    objs = objects(render)
    assert "CustomResourceDefinition/widgets.example.com" in objs  # the repository's own copy only
    crd_labels = objs["CustomResourceDefinition/widgets.example.com"]["metadata"]["labels"]
    assert "helm.toolkit.fluxcd.io/name" not in crd_labels
    config = objs["ConfigMap/web-ns/web-ns-web-config"]  # release name <targetNamespace>-<name>
    assert config["data"]["release_namespace"] == "web-ns"
    assert config["data"]["kube"] == "v1.31.4"
    assert config["data"]["widgets_api"] == "true"  # the CRD in the render is an API helm knows


def test_api_versions_and_default_kube_version(tmp_path: Path, scratch: Path) -> None:
    config = objects(one(_repo(tmp_path / "repo", {})))["ConfigMap/apps/web-config"]
    assert config["data"]["widgets_api"] == "false"  # the chart's own crds/ are not in the render's APIs
    assert config["data"]["kube"].startswith("v1.")


def test_post_renderers_patch_and_retag_but_never_touch_crds(tmp_path: Path, scratch: Path) -> None:
    post = [
        {
            "kustomize": {
                "patches": [
                    {
                        "target": {"kind": "Deployment"},
                        "patch": "- op: add\n  path: /metadata/annotations\n  value: {patched: 'yes'}\n",
                    },
                    {
                        "target": {"kind": "CustomResourceDefinition"},
                        "patch": "- op: add\n  path: /metadata/annotations\n  value: {patched: 'yes'}\n",
                    },
                ],
                "images": [{"name": "nginx", "newTag": "2.0"}],
            }
        }
    ]
    repo = _repo(tmp_path / "repo", {}, postRenderers=post, commonMetadata={"labels": {"team": "web"}})
    objs = objects(one(repo))
    deploy = objs["Deployment/apps/web"]
    assert deploy["metadata"]["annotations"] == {"patched": "yes"}
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2.0"
    assert deploy["metadata"]["labels"]["team"] == "web"  # commonMetadata after the post-renderers
    crd = objs["CustomResourceDefinition/widgets.example.com"]
    assert "annotations" not in crd["metadata"] and "team" not in crd["metadata"]["labels"]


def test_target_path_types_values_like_helm_set(tmp_path: Path, scratch: Path) -> None:
    from fluxfleet import yamlio

    values_from = [
        {"kind": "ConfigMap", "name": "web-values"},
        {"kind": "ConfigMap", "name": "web-values", "valuesKey": "count", "targetPath": "replicas"},
        {"kind": "ConfigMap", "name": "web-values", "valuesKey": "count", "targetPath": "items[1]"},
        {
            "kind": "ConfigMap",
            "name": "web-values",
            "valuesKey": "count",
            "targetPath": "greeting",
            "literal": True,
        },
    ]
    repo = _repo(tmp_path / "repo", {}, valuesFrom=values_from)
    sources = repo / "clusters/test/sources.yaml"
    docs = yamlio.load_all(sources.read_text(), "sources.yaml")
    docs[0]["data"]["count"] = "5"
    sources.write_text(yamlio.dump_all(docs))
    config = objects(one(repo))["ConfigMap/apps/web-config"]
    assert config["data"]["replicas"] == "5"
    # a number, not the string "5" (helm reads numbers of a values file as float64)
    assert config["data"]["replicas_type"] == "float64"
    assert config["data"]["items"] == "[null,5]"  # list index, gap filled with null
    assert config["data"]["greeting"] == "5"  # literal: kept as the string


def test_a_failing_chart_is_an_error_that_never_shows_values(tmp_path: Path, scratch: Path) -> None:
    render = one(_repo(tmp_path / "repo", {"fail": True}))
    entry = _entry(render, "web")
    assert entry.status is KsStatus.failed
    assert entry.objects == ()
    messages = [e.message for e in render.errors]
    assert any("template failed with values" in m for m in messages), messages
    assert all(CANARY not in m for m in messages)
    assert any("***" in m for m in messages)  # helm echoed the Secret value; it was blanked out
    assert list(scratch.iterdir()) == []


def test_missing_values_source_is_listed_not_rendered(tmp_path: Path, scratch: Path) -> None:
    repo = _repo(tmp_path / "repo", {})
    (repo / "clusters/test/sources.yaml").write_text("# the values live only in the cluster\n")
    render = one(repo)
    web = {h.name: h for h in render.helmreleases}["web"]
    assert not web.rendered
    assert "ConfigMap/web-values" in web.reason
    assert not any(k.kind == "HelmRelease" for k in render.kustomizations)


def test_without_helm_charts_are_listed_as_not_rendered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLUXFLEET_HELM", str(tmp_path / "no-such-helm"))
    render = one(_repo(tmp_path / "repo", {"replicas": 3}))
    releases = {h.name: h for h in render.helmreleases}
    assert (
        releases["web"].reason
        == f"not rendered: FLUXFLEET_HELM={tmp_path / 'no-such-helm'} is not an executable file"
    )
    assert not any(k.kind == "HelmRelease" for k in render.kustomizations)
    assert "ConfigMap/apps/web-config" not in objects(render)


def test_helm_is_looked_up_in_the_documented_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = tmp_path / "own-helm"
    own.write_text("#!/bin/sh\n")
    own.chmod(0o755)
    monkeypatch.setenv("FLUXFLEET_HELM", str(own))
    assert find_helm() == (str(own), "")
    monkeypatch.delenv("FLUXFLEET_HELM")
    assert find_helm()[0] == str(Path(sys.executable).parent / "helm")  # installed beside fluxfleet
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_helm()[0] is None
    (tmp_path / "helm").write_bytes(own.read_bytes())
    (tmp_path / "helm").chmod(0o755)
    assert find_helm()[0] == str(tmp_path / "helm")


def test_values_merge_target_path_and_release_name() -> None:
    from fluxfleet.render.helm import NotRendered, merge_maps, release_name, set_path, typed

    assert merge_maps({"a": {"b": 1, "c": 2}, "l": [1]}, {"a": {"c": 3}, "l": [2]}) == {
        "a": {"b": 1, "c": 3},
        "l": [2],
    }
    assert set_path({"a": {"x": 1}}, "a.b\\.c.d", "v") == {"a": {"x": 1, "b.c": {"d": "v"}}}
    assert set_path({}, "a[1].b", 1) == {"a": [None, {"b": 1}]}
    with pytest.raises(NotRendered):
        set_path({}, "a[x]", "v")
    assert [typed(v) for v in ("5", "007", "true", "null", "'5'", "1.5", "-3")] == [
        5,
        "007",
        True,
        None,
        "5",
        "1.5",
        -3,
    ]
    hr = {"metadata": {"name": "web", "namespace": "apps"}, "spec": {"targetNamespace": "t"}}
    assert release_name(hr) == "t-web"
    assert release_name({"metadata": {"name": "web"}, "spec": {"releaseName": "r"}}) == "r"
    long = release_name({"metadata": {"name": "x" * 60}, "spec": {}})
    assert len(long) <= 53


def test_golden_render_of_every_helm_feature(tmp_path: Path, scratch: Path) -> None:
    """values, valuesFrom (ConfigMap and Secret), targetPath, postRenderers, CRDs, byte for byte."""
    golden = Path(__file__).parent / "golden" / "helm-features.yaml"
    post = [
        {
            "kustomize": {
                "patches": [
                    {
                        "target": {"kind": "Deployment"},
                        "patch": "- op: add\n  path: /spec/template/metadata\n  value: {labels: {tier: web}}\n",
                    }
                ],
                "images": [{"name": "nginx", "newName": "registry.example.com/nginx", "newTag": "1.27"}],
            }
        }
    ]
    repo = _repo(tmp_path / "repo", {"replicas": 2}, postRenderers=post, targetNamespace="web")
    render = one(repo, kube_version="v1.33.0")
    entry = _entry(render, "web")
    rendered = present.yaml_stream([replace(render, kustomizations=(entry,))])
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(rendered, encoding="utf-8")
    assert golden.is_file(), f"{golden} is missing: run with UPDATE_GOLDEN=1"
    assert rendered == golden.read_text(encoding="utf-8"), f"differs from {golden} (UPDATE_GOLDEN=1)"
    assert "registry.example.com/nginx:1.27" in rendered and "tier: web" in rendered
    assert CANARY not in rendered


def test_bad_kube_version_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fluxfleet.cli.main import main

    repo = _repo(tmp_path / "repo", {})
    assert main(["build", "-C", str(repo), "--kube-version", "banana"]) == 2
    assert "--kube-version 'banana' is not a Kubernetes version" in capsys.readouterr().err


def test_values_files_replace_the_chart_defaults(tmp_path: Path, scratch: Path) -> None:
    def chart(files: list[str], ignore: bool = False) -> dict[str, Any]:
        return {
            "spec": {
                "chart": "./charts/web",
                "sourceRef": {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"},
                "valuesFiles": files,
                "ignoreMissingValuesFiles": ignore,
            }
        }

    repo = _repo(
        tmp_path / "repo", {}, chart=chart(["charts/web/values.yaml", "charts/web/values-prod.yaml"])
    )
    (repo / "charts/web/values-prod.yaml").write_text("image: nginx:9.9\n")
    objs = objects(one(repo))
    assert objs["Deployment/apps/web"]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:9.9"
    assert (
        objs["ConfigMap/apps/web-config"]["data"]["chart"] == "web-1.2.3+1"
    )  # source-controller's +generation

    repo = _repo(tmp_path / "repo2", {}, chart=chart(["charts/web/values.yaml", "charts/web/absent.yaml"]))
    render = one(repo)
    assert any("valuesFiles: charts/web/absent.yaml does not exist" in e.message for e in render.errors)
    repo = _repo(tmp_path / "repo3", {}, chart=chart(["charts/web/absent.yaml"], ignore=True))
    config = objects(one(repo))["ConfigMap/apps/web-config"]
    assert (
        config["data"]["greeting"] == "hello"
    )  # chart defaults replaced by nothing, valuesFrom still applies


def test_version_names_helm(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from fluxfleet.cli.main import main

    assert main(["version", "-o", "json"]) == 0
    info = __import__("json").loads(capsys.readouterr().out)
    assert info["helm"].startswith("v4.3.1") and info["helm_binary"].endswith("helm")
    monkeypatch.setenv("FLUXFLEET_HELM", "/nonexistent/helm")
    assert main(["version"]) == 0  # helm is optional: renders list HelmReleases without it
    assert (
        "helm: not found (FLUXFLEET_HELM=/nonexistent/helm is not an executable file)"
        in capsys.readouterr().out
    )
