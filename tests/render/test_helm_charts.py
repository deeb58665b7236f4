"""Charts from remote Flux sources: real helm, a real HTTP chart repository and a real OCI registry.

Everything runs on loopback (see chart_servers.py); nothing is faked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fluxfleet.cli.main import app
from fluxfleet.render import semver
from fluxfleet.render.model import ClusterRender

from .chart_servers import http_repo, oci_registry, package, push
from .helpers import cluster_repo, objects, one


def _hr(name: str, chart: dict[str, Any], values: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": "apps"},
        "spec": {"interval": "10m", **chart, "values": values or {}},
    }


def _from_repo(chart: str, version: str | None, repo: str = "charts") -> dict[str, Any]:
    spec: dict[str, Any] = {"chart": chart, "sourceRef": {"kind": "HelmRepository", "name": repo}}
    if version is not None:
        spec["version"] = version
    return {"chart": {"spec": spec}}


def _helm_repository(url: str, name: str = "charts", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": {"name": name, "namespace": "apps"},
        "spec": {"interval": "1h", "url": url, **spec},
    }


def _oci_repository(name: str, url: str, ref: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "OCIRepository",
        "metadata": {"name": name, "namespace": "apps"},
        "spec": {"interval": "1h", "url": url, "ref": ref, "insecure": True, **spec},
    }


def _charts(render: ClusterRender) -> dict[str, str]:
    """Release name → chart name-version as the chart itself printed it."""
    out = {}
    for key, body in objects(render).items():
        if key.startswith("ConfigMap/apps/"):
            out[body["metadata"]["name"]] = body["data"]["chart"]
    return out


def _reasons(render: ClusterRender) -> dict[str, str]:
    return {h.name: h.reason for h in render.helmreleases}


@pytest.fixture(autouse=True)
def _online(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLUXFLEET_OFFLINE")  # these tests fetch from servers on loopback


@pytest.fixture
def http_charts(tmp_path: Path) -> Path:
    root = tmp_path / "http-charts"
    for version in ("1.0.0", "1.1.0", "2.0.0-rc.1"):
        package(root, "hello", version)
    package(root, "other", "0.3.0")
    return root


def test_http_repository_ranges_resolve_as_source_controller_and_download_once(
    tmp_path: Path, http_charts: Path
) -> None:
    with http_repo(http_charts) as server:
        releases = [
            _hr("pinned", _from_repo("hello", "1.0.0")),
            _hr("range", _from_repo("hello", ">=1.0.0 <2.0.0")),
            _hr("latest", _from_repo("hello", None)),  # no version: highest stable, like "*"
            _hr("again", _from_repo("hello", "1.1.x"), {"message": "hi"}),
            _hr("pre", _from_repo("hello", ">=2.0.0-0")),
            _hr("missing", _from_repo("absent", "1.0.0")),
            _hr("nomatch", _from_repo("hello", "^3")),
        ]
        repo = cluster_repo(
            tmp_path / "repo", {"releases.yaml": releases, "repo.yaml": [_helm_repository(server.url)]}
        )
        render = one(repo)
        assert _charts(render) == {
            "pinned-hello": "hello-1.0.0",
            "range-hello": "hello-1.1.0",
            "latest-hello": "hello-1.1.0",
            "again-hello": "hello-1.1.0",
            "pre-hello": "hello-2.0.0-rc.1",
        }
        assert objects(render)["ConfigMap/apps/again-hello"]["data"]["message"] == "hi"
        assert server.hits["/index.yaml"] == 1  # once per repository per render
        assert server.hits["/hello-1.1.0.tgz"] == 1  # once per version, not once per release
        reasons = _reasons(render)
        assert "chart 'absent' is not in" in reasons["missing"]
        assert "no version of chart 'hello'" in reasons["nomatch"] and "'^3'" in reasons["nomatch"]
        versions = {h.name: h.version for h in render.helmreleases}
        assert versions["range"] == "1.1.0"

        # a new session: pinned versions come from the cache, ranges re-read only the index
        again = one(repo)
        assert _charts(again) == _charts(render)
        assert server.hits["/hello-1.1.0.tgz"] == 1 and server.hits["/hello-1.0.0.tgz"] == 1

    # the server is gone: --offline renders what is cached and names what is not
    offline = one(repo, offline=True)
    assert _charts(offline) == _charts(render)
    assert "not in the chart cache (--offline)" in _reasons(offline)["missing"]


def test_unreachable_repository_is_reported_per_release(tmp_path: Path) -> None:
    with http_repo(tmp_path / "empty") as server:
        url = server.url
    releases = [_hr("web", _from_repo("hello", "1.0.0"))]
    repo = cluster_repo(tmp_path / "repo", {"r.yaml": releases, "s.yaml": [_helm_repository(url)]})
    render = one(repo)
    reason = _reasons(render)["web"]
    assert reason.startswith("not rendered: chart hello 1.0.0 from http://127.0.0.1")
    assert "HelmRepository/apps/charts" in reason and "index.yaml" in reason


def test_credentials_come_from_helm_config_never_from_the_repository(
    tmp_path: Path, http_charts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with http_repo(http_charts, auth="alice:wonder") as server:
        releases = [_hr("web", _from_repo("hello", "1.0.0"))]
        source = _helm_repository(server.url, secretRef={"name": "creds"})
        creds = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": "apps"},
            "stringData": {"username": "alice", "password": "wonder"},
        }
        repo = cluster_repo(tmp_path / "repo", {"r.yaml": releases, "s.yaml": [source, creds]})
        assert "HTTP 401" in _reasons(one(repo))["web"]  # the repository's Secret is not used
        config = tmp_path / "repositories.yaml"
        config.write_text(
            f"apiVersion: ''\nrepositories:\n- name: mine\n  url: {server.url}\n"
            "  username: alice\n  password: wonder\n"
        )
        monkeypatch.setenv("HELM_REPOSITORY_CONFIG", str(config))
        assert _charts(one(repo)) == {"web-hello": "hello-1.0.0"}


@pytest.mark.slow
def test_oci_sources_tag_semver_digest_and_helm_repository(tmp_path: Path) -> None:
    archives = tmp_path / "oci-charts"
    with oci_registry(tmp_path) as registry:
        digests = {v: push(package(archives, "hello", v), registry) for v in ("1.0.0", "1.2.0", "2.0.0")}
        base = f"oci://{registry}/charts"
        sources = [
            _oci_repository("by-tag", f"{base}/hello", {"tag": "1.0.0"}),
            _oci_repository("by-semver", f"{base}/hello", {"semver": "~1.0 || ~1.2"}),
            _oci_repository("by-digest", f"{base}/hello", {"digest": digests["2.0.0"], "tag": "1.0.0"}),
            _oci_repository(
                "wrong-layer",
                f"{base}/hello",
                {"tag": "1.0.0"},
                layerSelector={"mediaType": "application/vnd.cncf.flux.content.v1.tar+gzip"},
            ),
            _helm_repository(base, name="oci-charts", type="oci", insecure=True),
        ]

        def ref(name: str) -> dict[str, Any]:
            return {"chartRef": {"kind": "OCIRepository", "name": name}}

        releases = [
            _hr("tag", ref("by-tag")),
            _hr("semver", ref("by-semver")),
            _hr("digest", ref("by-digest")),
            _hr("layer", ref("wrong-layer")),
            _hr("helmrepo", _from_repo("hello", "2.0.0", repo="oci-charts")),
        ]
        repo = cluster_repo(tmp_path / "repo", {"r.yaml": releases, "s.yaml": sources})
        render = one(repo)

        def tracked(version: str) -> str:  # helm-controller's chart digest tracking
            return f"hello-{version}+{digests[version].removeprefix('sha256:')[:12]}"

        assert _charts(render) == {
            "tag-hello": tracked("1.0.0"),
            "semver-hello": tracked("1.2.0"),
            "digest-hello": tracked("2.0.0"),  # the digest wins over the tag
            "helmrepo-hello": "hello-2.0.0",  # a HelmRepository: no suffix
        }
        assert "is not a Helm chart" in _reasons(render)["layer"]
    offline = one(repo, offline=True)  # the registry is gone; everything fetched is cached
    assert _charts(offline) == _charts(render)
    warm = one(repo)  # pinned tags and digests need no registry either, ranges do
    reasons = _reasons(warm)
    assert reasons["tag"].startswith("rendered") and reasons["digest"].startswith("rendered")
    assert reasons["helmrepo"].startswith("rendered")
    assert "helm pull failed" in reasons["semver"]


def test_cli_offline_names_missing_charts(tmp_path: Path) -> None:
    releases = [_hr("web", _from_repo("hello", "1.0.0"))]
    repo = cluster_repo(
        tmp_path / "repo", {"r.yaml": releases, "s.yaml": [_helm_repository("http://127.0.0.1:9")]}
    )
    result = CliRunner().invoke(
        app, ["get", "helmreleases", "-C", str(repo), "--offline", "-o", "json"], catch_exceptions=False
    )
    rows = json.loads(result.stdout)["helmreleases"]
    assert rows[0]["rendered"] is False
    assert "not in the chart cache (--offline)" in rows[0]["reason"]


def test_semver_constraints() -> None:
    versions = ["1.0.0", "1.2.3", "1.2.10", "1.3.0-rc.1", "2.0.0", "0.2.5", "0.0.3", "v1.4", "1.5"]
    cases = {
        "*": "2.0.0",
        "": "2.0.0",
        "1.2.3": "1.2.3",
        "~1.2": "1.2.10",
        "^1.2": "1.2.10",
        "^0.2.1": "0.2.5",
        "^0.0.3": "0.0.3",
        "1.2.x": "1.2.10",
        ">1.2": "2.0.0",
        "<=1.2": "1.2.10",
        ">=1.0 <1.2.5": "1.2.3",
        "1.0.0 - 1.2.5": "1.2.3",
        "<1 || >=1.2.4, <1.3": "1.2.10",
        ">=1.3.0-0 <2": "1.3.0-rc.1",
        "!=2.0.0": "1.2.10",
        ">=3": None,
    }
    for constraint, want in cases.items():
        assert semver.highest(constraint, versions) == want, constraint
    assert semver.highest("v1.4", versions) == "v1.4"  # an exact string match wins, even if not strict
    with pytest.raises(semver.ConstraintError):
        semver.constraint(">=banana")


def test_chart_ref_to_a_helmchart_object(tmp_path: Path, http_charts: Path) -> None:
    helm_chart = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmChart",
        "metadata": {"name": "hello", "namespace": "apps"},
        "spec": {
            "chart": "hello",
            "version": "~1.0",
            "sourceRef": {"kind": "HelmRepository", "name": "charts"},
        },
    }
    with http_repo(http_charts) as server:
        releases = [_hr("web", {"chartRef": {"kind": "HelmChart", "name": "hello"}})]
        repo = cluster_repo(
            tmp_path / "repo", {"r.yaml": releases, "s.yaml": [_helm_repository(server.url), helm_chart]}
        )
        render = one(repo)
    assert _charts(render) == {"web-hello": "hello-1.0.0"}
    assert {h.name: h.version for h in render.helmreleases}["web"] == "1.0.0"


def test_check_passes_offline_and_its_kubernetes_version_to_helm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fluxfleet.cli.main import main

    local = {
        "chart": {
            "spec": {
                "chart": "./charts/old",
                "sourceRef": {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"},
            }
        }
    }
    releases = [_hr("remote", _from_repo("hello", "1.0.0")), _hr("old", local)]
    repo = cluster_repo(
        tmp_path / "repo",
        {"r.yaml": releases, "s.yaml": [_helm_repository("http://127.0.0.1:9")]},
        {
            "charts/old/Chart.yaml": "apiVersion: v2\nname: old\nversion: 1.0.0\nkubeVersion: '<1.30.0-0'\n",
            "charts/old/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: old}\n",
        },
    )

    def findings(*args: str) -> list[dict[str, Any]]:
        main(["check", "-C", str(repo), "-o", "json", *args])
        result: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["findings"]
        return result

    new = findings("--offline", "--kubernetes-version", "1.31")
    assert any("not in the chart cache (--offline)" in f["message"] for f in new)
    assert any("incompatible with Kubernetes v1.31" in f["message"] for f in new)
    old = findings("--offline", "--kubernetes-version", "1.29")
    assert not any("incompatible with Kubernetes" in f["message"] for f in old)
