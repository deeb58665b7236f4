"""Every HelmRelease of the fixture repositories rendered through real helm, golden-tested.

The fixture repositories name public charts (jetstack, ingress-nginx, podinfo, grafana, and
kube-prometheus-stack on ghcr.io). Tests reach no network but loopback, so each chart is served by
a stand-in of the same name and a version inside the release's range, from a real HTTP chart
repository and a real OCI registry on 127.0.0.1; a copy of the repository points its sources
there. The stand-in prints the values it received, so the golden file pins what fluxfleet composes
(chart choice, version resolution, valuesFrom through a kustomize-generated ConfigMap, inline
values, release names and namespaces), not the public charts' templates.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

import pytest

from fluxfleet import yamlio
from fluxfleet.render import present

from .chart_servers import STAND_IN, http_repo, oci_registry, package, push
from .helpers import render

GOLDEN = Path(__file__).parent / "golden" / "fixture-helmreleases.yaml"

HTTP_CHARTS = {  # public repository URL → stand-in charts (name, version)
    "https://charts.jetstack.io": [("cert-manager", "1.16.2")],
    "https://kubernetes.github.io/ingress-nginx": [("ingress-nginx", "4.12.0")],
    "https://stefanprodan.github.io/podinfo": [("podinfo", "6.7.1"), ("podinfo", "6.8.0-rc.1")],
    "https://grafana.github.io/helm-charts": [("loki", "6.24.0"), ("promtail", "6.16.6"), ("loki", "7.0.0")],
}
OCI_URL = "oci://ghcr.io/prometheus-community/charts/kube-prometheus-stack"


@pytest.fixture(autouse=True)
def _online(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLUXFLEET_OFFLINE")  # the stand-ins are served on loopback


def _point_at(repo: Path, replacements: dict[str, str]) -> None:
    for path in repo.rglob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        new = text
        for old, replacement in replacements.items():
            new = new.replace(f"url: {old}\n", f"url: {replacement}\n")
        if new != text:
            path.write_text(new, encoding="utf-8")


@pytest.mark.slow
def test_every_fixture_helmrelease_renders(tmp_path: Path, fixture_repos: Path) -> None:
    with contextlib.ExitStack() as stack:
        replacements: dict[str, str] = {}
        for i, (url, charts) in enumerate(HTTP_CHARTS.items()):
            root = tmp_path / f"http-{i}"
            for name, version in charts:
                package(root, name, version, template=STAND_IN)
            replacements[url] = stack.enter_context(http_repo(root)).url
        registry = stack.enter_context(oci_registry(tmp_path))
        push(package(tmp_path / "oci", "kube-prometheus-stack", "69.8.2", template=STAND_IN), registry)
        replacements[OCI_URL] = f"oci://{registry}/charts/kube-prometheus-stack\n  insecure: true"

        sections = []
        for name in ("flux2-kustomize-helm-example", "flux2-monitoring-example", "flux2-multi-tenancy"):
            repo = tmp_path / name
            shutil.copytree(fixture_repos / name, repo)
            _point_at(repo, replacements)
            for cluster in render(repo):
                assert all(h.rendered for h in cluster.helmreleases), [
                    (h.name, h.reason) for h in cluster.helmreleases if not h.rendered
                ]
                objs = [o for h in cluster.helmreleases for o in h.objects]
                body = {
                    "helmreleases": present.helmrelease_rows([cluster]),
                    "objects": [o.body for o in objs],
                }
                text = yamlio.dump(body)
                for old, new in replacements.items():  # loopback ports change every run
                    text = text.replace(new.split("\n")[0], old)
                # so do the digests of charts packaged by the test (the .Chart.Version suffix)
                text = re.sub(r"\+[0-9a-f]{12}\b", "+<digest>", text)
                sections.append(f"# {name} / {cluster.cluster}\n{text}")
    rendered = "---\n".join(sections)

    releases = yamlio.load_all(rendered, "render")
    by_cluster = {}
    for section, doc in zip(sections, releases, strict=True):
        by_cluster[section.splitlines()[0]] = {r["name"]: r for r in doc["helmreleases"]}
    prod = by_cluster["# flux2-kustomize-helm-example / production"]
    staging = by_cluster["# flux2-kustomize-helm-example / staging"]
    assert prod["podinfo"]["version"] == "6.7.1"  # ">=1.0.0": stable only
    assert staging["podinfo"]["version"] == "6.8.0-rc.1"  # ">=1.0.0-alpha" admits pre-releases
    assert prod["cert-manager"]["version"] == "1.16.2"  # "1.x"
    monitoring = next(v for k, v in by_cluster.items() if "monitoring" in k)
    assert monitoring["loki"]["version"] == "6.24.0"  # "6.x", not 7.0.0
    assert "kube-state-metrics" in rendered  # valuesFrom: the generated ConfigMap with its hash suffix

    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(rendered, encoding="utf-8")
    assert GOLDEN.is_file(), f"{GOLDEN} is missing: run with UPDATE_GOLDEN=1"
    assert rendered == GOLDEN.read_text(encoding="utf-8"), f"differs from {GOLDEN} (UPDATE_GOLDEN=1)"


EXAMPLE_CHARTS = {
    "https://charts.jetstack.io": [("cert-manager", "v1.16.1")],
    "https://kubernetes.github.io/ingress-nginx": [("ingress-nginx", "4.11.3")],
    "https://prometheus-community.github.io/helm-charts": [("kube-prometheus-stack", "65.1.1")],
    "https://charts.external-secrets.io": [("external-secrets", "0.10.4")],
}


@pytest.mark.slow
def test_every_example_fleet_helmrelease_renders(tmp_path: Path) -> None:
    import io
    from contextlib import redirect_stdout

    from fluxfleet.cli.main import main

    repo = tmp_path / "fleet"
    with redirect_stdout(io.StringIO()):
        assert main(["init", "--example", str(repo)]) == 0
        assert main(["generate", "-C", str(repo)]) == 0
    with contextlib.ExitStack() as stack:
        replacements = {}
        for i, (url, charts) in enumerate(EXAMPLE_CHARTS.items()):
            root = tmp_path / f"http-{i}"
            for name, version in charts:
                package(root, name, version, template=STAND_IN)
            replacements[url] = stack.enter_context(http_repo(root)).url
        _point_at(repo, replacements)
        renders = render(repo)
    releases = [h for r in renders for h in r.helmreleases]
    assert len(releases) == 36 and len(renders) == 9
    assert all(h.rendered for h in releases), [(h.name, h.reason) for h in releases if not h.rendered]
    prod = next(r for r in renders if r.cluster == "prod-eu-west-1")
    text = yamlio.dump({"objects": [o.body for h in prod.helmreleases for o in h.objects]})
    golden = GOLDEN.parent / "example-fleet-helmreleases.yaml"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"{golden} is missing: run with UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8"), f"differs from {golden} (UPDATE_GOLDEN=1)"
