"""The render commands end to end: the generated example fleet, fixture repos, secret masking, exit codes."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from fluxfleet import yamlio
from fluxfleet.cli.main import main

from .helpers import cluster_repo, ks

CANARY = "canary-7f3a9c-never-print-me"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_example_fleet_renders_every_cluster_from_fleet_yaml(
    example_fleet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "get", "kustomizations", "-C", str(example_fleet), "-o", "json")
    assert code == 0, err
    rows = json.loads(out)["kustomizations"]
    clusters = {r["cluster"] for r in rows}
    assert len(clusters) == 9 and "prod-eu-west-1" in clusters
    assert all(r["status"] == "rendered" for r in rows)
    prod = {r["name"]: r for r in rows if r["cluster"] == "prod-eu-west-1"}
    assert prod["flux-system"]["path"] == "clusters/prod/eu-west-1"
    assert prod["app-myapp"]["path"] == "apps/myapp/overlays/prod"
    assert "flux-system/platform-cert-manager" in prod["app-myapp"]["dependsOn"]


def test_example_fleet_build_substitutes_cluster_variables(
    example_fleet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "build", "-C", str(example_fleet), "--cluster", "prod-eu-west-1")
    assert code == 0
    docs = yamlio.load_all(out)
    deploy = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "myapp")
    assert deploy["metadata"]["namespace"] == "myapp"  # targetNamespace
    env = {e["name"]: e["value"] for e in deploy["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CLUSTER_NAME"] == "prod-eu-west-1"
    assert env["REGION"] == "eu-west-1"
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"].startswith("ghcr.io/example/myapp:")
    assert deploy["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "app-myapp"


def test_example_fleet_image_matrix_and_tree(example_fleet: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "get", "images", "-C", str(example_fleet), "-o", "json")
    assert code == 0
    matrix = json.loads(out)["images"]
    tags = matrix["ghcr.io/example/myapp"]
    assert set(tags) == {
        f"{e}-{r}" for e in ("dev", "staging", "prod") for r in ("eu-west-1", "us-east-1", "us-west-2")
    }
    code, out, _ = _run(capsys, "tree", "-C", str(example_fleet), "--cluster", "dev-eu-west-1")
    assert code == 0
    assert "Kustomization/flux-system/flux-system" in out
    assert "└── Kustomization/flux-system/app-myapp  [dependsOn: flux-system/platform-cert-manager" in out


def test_build_to_folders_one_file_per_kustomization(
    example_fleet: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = _run(
        capsys, "build", "-C", str(example_fleet), "-c", "dev-eu-west-1", "-o", f"dir:{tmp_path / 'out'}"
    )
    assert code == 0
    files = sorted(p.name for p in (tmp_path / "out" / "dev-eu-west-1").iterdir())
    assert "kustomization-flux-system-app-myapp.yaml" in files
    assert "kustomization-flux-system-flux-system.yaml" in files


def _secret_repo(root: Path) -> Path:
    plain = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "plain", "namespace": "default"},
        "stringData": {"password": CANARY},
        "data": {"token": base64.b64encode(CANARY.encode()).decode()},
    }
    encrypted = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "sealed", "namespace": "default"},
        "data": {"key": "RU5DW0FFUzI1Nl9HQ00sZGF0YTp4eHhd"},
        "sops": {"mac": "ENC[AES256_GCM,data:abc,type:str]", "version": "3.9.0"},
    }
    return cluster_repo(
        root,
        {"ks.yaml": [ks("secrets", "./secrets", decryption={"provider": "sops"})]},
        {"secrets/s.yaml": [plain, encrypted]},
    )


def test_secret_values_never_reach_build_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _secret_repo(tmp_path)
    for fmt in ("yaml", "json"):
        code, out, err = _run(capsys, "build", "-C", str(repo), "-o", fmt)
        assert code == 0, err
        assert CANARY not in out + err
        assert base64.b64encode(CANARY.encode()).decode() not in out + err
        assert "password" in out  # keys stay visible
    code, out, _ = _run(capsys, "build", "-C", str(repo))
    sealed = next(d for d in yamlio.load_all(out) if d["metadata"]["name"] == "sealed")
    assert "sops" not in sealed and sealed["data"] == {"key": "KipTT1BTKio="}  # Flux's **SOPS** marker
    plain = next(d for d in yamlio.load_all(out) if d["metadata"]["name"] == "plain")
    assert set(plain["data"].values()) == {base64.b64encode(b"**MASKED**").decode()}


def test_sops_secret_without_decryption_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _secret_repo(tmp_path)
    ks_file = repo / "clusters/test/ks.yaml"
    ks_file.write_text(ks_file.read_text().replace("  decryption:\n    provider: sops\n", ""))
    code, _, err = _run(capsys, "get", "kustomizations", "-C", str(repo))
    assert code == 1
    assert "Secret/default/sealed> is SOPS encrypted, configuring decryption is required" in err


def test_fixture_repo_render_errors_give_exit_1_and_unknown_cluster_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = cluster_repo(tmp_path, {"ks.yaml": [ks("gone", "./nowhere")]})
    code, _, err = _run(capsys, "get", "kustomizations", "-C", str(repo))
    assert code == 1
    assert "test flux-system/gone" in err and "kustomization path not found" in err
    code, _, err = _run(capsys, "build", "-C", str(repo), "--cluster", "tset")
    assert code == 2
    assert "unknown cluster 'tset'" in err and "did you mean `test`" in err


def test_fixture_repos_get_helmreleases(fixture_repos: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys, "get", "helmreleases", "-C", str(fixture_repos / "flux2-monitoring-example"), "-o", "json"
    )
    assert code == 0
    releases = {r["name"]: r for r in json.loads(out)["helmreleases"]}
    assert releases["loki"]["chart"] == "loki" and releases["loki"]["version"] == "6.x"
    assert releases["kube-prometheus-stack"]["source"] == "OCIRepository/monitoring/kube-prometheus-stack"
    assert releases["kube-prometheus-stack"]["values"][0].startswith(
        "ConfigMap/flux-kube-state-metrics-config-"
    )


def test_version_names_the_engine(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "version", "-o", "json")
    assert code == 0
    info = json.loads(out)
    assert info["kustomize"].startswith("v5.")
    assert info["engine"] in ("kubectl kustomize", "kustomize")


def test_missing_engine_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fluxfleet.render import engine

    engine._locate.cache_clear()
    monkeypatch.setenv("FLUXFLEET_KUSTOMIZE", str(tmp_path / "no-such-binary"))
    repo = cluster_repo(
        tmp_path / "r",
        {"ks.yaml": [ks("a", "./a", namePrefix="x-")]},
        {"a/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"},
    )
    try:
        code, _, err = _run(capsys, "build", "-C", str(repo), "--no-cache")
    finally:
        engine._locate.cache_clear()
    assert code == 2
    assert "FLUXFLEET_KUSTOMIZE" in err and "Traceback" not in err
