"""What `generate` writes must work on a real cluster (issue 10): one test per defect."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fluxfleet import yamlio
from fluxfleet.cli.main import main
from fluxfleet.generate.layout import HEADER

EXTRA_CLUSTER = (
    "    - name: dev-us-west-2-b\n      labels:\n        environment: dev\n        region: us-west-2\n"
    "        cluster-type: workload\n"
)
COMPONENTS = "---\n# Flux Version: v2.9.4\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    repo = tmp_path / "fleet"
    assert main(["init", "--example", str(repo)]) == 0
    assert main(["generate", "-C", str(repo)]) == 0
    return repo


def _edit(repo: Path, old: str, new: str) -> None:
    fleet = repo / "fleet.yaml"
    text = fleet.read_text()
    assert old in text
    fleet.write_text(text.replace(old, new, 1))


def test_real_flux_components_are_never_replaced_by_the_placeholder(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    components = example.parent / "components.yaml"
    components.write_text(COMPONENTS)
    assert main(["generate", "-C", str(example), "--flux-components", str(components)]) == 0
    real = example / "clusters/dev/us-west-2/flux-system/gotk-components.yaml"
    before = real.read_text()
    assert "kind: Namespace" in before
    capsys.readouterr()
    assert main(["generate", "--check", "-C", str(example)]) == 0
    assert main(["generate", "-C", str(example)]) == 0
    assert real.read_text() == before
    assert "kept the real Flux components" in capsys.readouterr().err


def test_components_recorded_in_fleet_yaml(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (example / "flux").mkdir()
    (example / "flux/components.yaml").write_text(COMPONENTS)
    _edit(example, "  source:\n", "  flux:\n    components:\n      file: flux/components.yaml\n  source:\n")
    assert main(["generate", "-C", str(example)]) == 0
    text = (example / "clusters/prod/eu-west-1/flux-system/gotk-components.yaml").read_text()
    assert text.startswith(HEADER) and "Flux Version: v2.9.4" in text
    _edit(example, "file: flux/components.yaml", "file: ../outside.yaml")
    capsys.readouterr()
    assert main(["generate", "-C", str(example)]) == 2
    err = capsys.readouterr().err
    assert "fleet.yaml" in err and "escapes" in err and "Traceback" not in err
    _edit(example, "file: ../outside.yaml", "version: 2.9.4")
    assert main(["generate", "-C", str(example)]) == 2  # no `flux` CLI on this machine
    assert "spec.flux.components.version" in capsys.readouterr().err


def test_adding_a_cluster_does_not_move_the_first_ones_folder(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit(example, "  # Platform components", EXTRA_CLUSTER + "\n  # Platform components")
    sync = example / "clusters/dev/us-west-2/flux-system/gotk-sync.yaml"
    before = sync.read_text()
    capsys.readouterr()
    assert main(["generate", "-C", str(example)]) == 2
    err = capsys.readouterr().err
    assert "clusters/dev/us-west-2" in err and "--move" in err and "path:" in err
    assert sync.read_text() == before
    assert not (example / "clusters/dev/us-west-2/dev-us-west-2-b").exists()
    # the user's way out: the new cluster gets its own path, the live one stays where it is
    _edit(
        example,
        "    - name: dev-us-west-2-b\n",
        "    - name: dev-us-west-2-b\n      path: clusters/dev/us-west-2-b\n",
    )
    assert main(["generate", "-C", str(example)]) == 0
    assert sync.read_text() == before
    assert (example / "clusters/dev/us-west-2-b/flux-system/gotk-sync.yaml").is_file()


def test_move_prints_the_steps_for_the_live_cluster(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit(example, "  # Platform components", EXTRA_CLUSTER + "\n  # Platform components")
    capsys.readouterr()
    assert main(["generate", "-C", str(example), "--move"]) == 0
    err = capsys.readouterr().err
    assert "flux suspend kustomization flux-system --context dev-us-west-2" in err
    assert '"path":"./clusters/dev/us-west-2/dev-us-west-2"' in err
    assert "--context dev-us-west-2-b" not in err  # the new cluster has nothing live to move


def test_no_namespace_is_scaffolded_twice_or_for_the_cluster(example: Path) -> None:
    extra = (
        "    - name: sealed-secrets\n      namespace: kube-system\n"
        "    - name: flux-extras\n      namespace: flux-system\n"
        "    - name: ingress-extras\n      namespace: ingress-nginx\n"
    )
    _edit(example, "\n  apps:\n", "\n" + extra + "\n  apps:\n")
    (example / "fleet.yaml").write_text(
        (example / "fleet.yaml").read_text() + "    - name: edge\n      namespace: ingress-nginx\n"
        "    - name: probe\n      namespace: probe\n"
    )
    assert main(["generate", "-C", str(example)]) == 0
    # a team-less app in a component's namespace: the component's Kustomization owns it, not the root
    names = [
        d["metadata"]["name"]
        for d in yamlio.load_file(example / "clusters/dev/us-west-2/apps/namespaces.yaml")
    ]
    assert names == ["probe"]
    for name in ("sealed-secrets", "flux-extras", "ingress-extras"):
        assert not (example / f"platform/{name}/namespace.yaml").exists(), name
        [kust] = yamlio.load_file(example / f"platform/{name}/kustomization.yaml")
        assert "namespace.yaml" not in kust["resources"]


def test_app_kustomizations_wait_for_health_with_a_timeout(example: Path) -> None:
    [ks] = yamlio.load_file(example / "clusters/dev/us-west-2/apps/myapp.yaml")
    assert ks["spec"]["wait"] is True and ks["spec"]["timeout"] == "5m"
    _edit(
        example,
        "    - name: myapp\n",
        "    - name: myapp\n      timeout: 3m\n      healthChecks:\n"
        "        - {apiVersion: apps/v1, kind: Deployment, name: myapp, namespace: myapp}\n",
    )
    assert main(["generate", "-C", str(example)]) == 0
    [ks] = yamlio.load_file(example / "clusters/dev/us-west-2/apps/myapp.yaml")
    assert "wait" not in ks["spec"] and ks["spec"]["timeout"] == "3m"
    assert ks["spec"]["healthChecks"] == [
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "myapp", "namespace": "myapp"}
    ]
    [platform] = yamlio.load_file(example / "clusters/dev/us-west-2/platform/monitoring.yaml")
    assert platform["spec"]["wait"] is True and "timeout" not in platform["spec"]


def test_platform_helm_releases_run_as_a_bound_account(example: Path) -> None:
    [release] = yamlio.load_file(example / "platform/cert-manager/release.yaml")
    account = release["spec"]["serviceAccountName"]
    sa, binding = yamlio.load_file(example / "platform/cert-manager/serviceaccount.yaml")
    assert sa["kind"] == "ServiceAccount" and sa["metadata"] == {"name": account, "namespace": "cert-manager"}
    assert binding["roleRef"]["name"] == "cluster-admin"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": "cert-manager"}]
    [kust] = yamlio.load_file(example / "platform/cert-manager/kustomization.yaml")
    assert "serviceaccount.yaml" in kust["resources"]


def test_alerts_are_opt_in_and_per_environment(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert not list(example.glob("clusters/*/*/notifications"))
    _edit(
        example, "  clusters:\n", "  alerts:\n    type: msteams\n    secretRef: teams-webhook\n  clusters:\n"
    )
    _edit(
        example,
        "    - name: dev\n      interval: 5m\n",
        "    - name: dev\n      interval: 5m\n      alerts:\n        type: msteams\n        secretRef: teams-webhook\n        enabled: false\n",
    )
    capsys.readouterr()
    assert main(["generate", "-C", str(example)]) == 0
    out = capsys.readouterr().out
    assert "kubectl -n flux-system create secret generic teams-webhook --from-literal=address=" in out
    assert "prod-us-west-2" in out and "dev-us-west-2" not in out
    assert not (example / "clusters/dev/us-west-2/notifications").exists()
    [root] = yamlio.load_file(example / "clusters/prod/us-west-2/kustomization.yaml")
    assert "notifications" in root["resources"]
    provider, alert = yamlio.load_file(example / "clusters/prod/us-west-2/notifications/alerts.yaml")
    assert provider["spec"] == {"type": "msteams", "secretRef": {"name": "teams-webhook"}}
    assert alert["spec"]["eventMetadata"]["cluster"] == "prod-us-west-2"


def test_alert_objects_are_reusable_for_a_fleet_event_service() -> None:
    from fluxfleet.check.schemas import validate_flux_object
    from fluxfleet.generate.alerts import notification_objects

    docs = notification_objects(
        "generic-hmac",
        "https://fleet.example.com/hook/prod-a",
        "fleet-hmac",
        [{"kind": "Kustomization", "name": "*"}],
        {"cluster": "prod-a"},
        name="fleet-events",
    )
    assert [d["kind"] for d in docs] == ["Provider", "Alert"]
    assert docs[0]["spec"]["address"].endswith("/hook/prod-a")
    assert docs[1]["spec"]["providerRef"] == {"name": "fleet-events"}
    assert [validate_flux_object(d) for d in docs] == [[], []]


def test_check_flags_a_platform_release_without_an_account(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    release = example / "platform/cert-manager/release.yaml"
    release.write_text(release.read_text().replace("  serviceAccountName: flux-platform\n", ""))
    capsys.readouterr()
    assert (
        main(
            [
                "check",
                "-C",
                str(example),
                "-c",
                "dev-us-west-2",
                "-r",
                "flux-impersonation-unbound",
                "-o",
                "json",
            ]
        )
        == 1
    )
    out = capsys.readouterr().out
    assert "cert-manager:default" in out


def test_check_base_catches_flux_removing_itself(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess

    components = example.parent / "components.yaml"
    crd = (
        "---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata:\n  name: kustomizations.kustomize.toolkit.fluxcd.io\n"
    )
    components.write_text(COMPONENTS + crd)
    assert main(["generate", "-C", str(example), "--flux-components", str(components)]) == 0

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(example), *args], check=True, capture_output=True)

    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "real flux")
    # what the old generate did: the placeholder back in place of the real controllers
    real = example / "clusters/dev/us-west-2/flux-system/gotk-components.yaml"
    real.write_text(HEADER + "\n# placeholder\n")
    args = ["check", "-C", str(example), "-c", "dev-us-west-2", "-r", "flux-self-removal", "-o", "json"]
    capsys.readouterr()
    assert main([*args, "--base", "HEAD"]) == 1
    out = capsys.readouterr().out
    assert '"critical"' in out and "kustomizations.kustomize.toolkit.fluxcd.io" in out
    assert main(args) == 0  # without a base there is no change to judge


def test_recorded_flux_version_exports_the_image_controllers_when_apps_are_automated(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The flux CLI is not installed here: a stand-in on PATH records the arguments generate passes
    # (a fake only for the binary; the components it would print are not what is under test).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "flux").write_text('#!/bin/sh\necho "# flux $*"\n')
    (bin_dir / "flux").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    _edit(example, "  source:\n", "  flux:\n    components:\n      version: 2.7.0\n  source:\n")
    assert main(["generate", "-C", str(example)]) == 0
    text = (example / "clusters/dev/us-west-2/flux-system/gotk-components.yaml").read_text()
    assert "--version=v2.7.0" in text
    # the example automates myapp in dev: without the image CRDs the flux-system apply would fail
    assert "--components-extra=image-reflector-controller,image-automation-controller" in text
