"""Inputs that used to end in a Python traceback: each is now an error naming file and line.

A malformed Flux object in a repository is a render error of its Kustomization (``build`` exits 1
with the error, as for any broken Kustomization); a malformed fleet.yaml or argument is exit 2.
An unexpected exception is exit 70 with one line naming a crash report that holds no secret.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fluxfleet.cli.main import main
from render.helpers import DEPLOYMENT, cluster_repo, ks

PATCHES = [{"patch": "- op: add\n  path: /metadata/labels/x\n  value: y\n", "target": {"kind": "Deployment"}}]

HELMRELEASE = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: h
  namespace: default
spec:
  interval: 1m
{spec}
"""


def _repo(tmp: Path, overlay: str, flux_ks: dict[str, object] | None = None, extra: str = "") -> Path:
    apps = [flux_ks or ks("apps", "./apps")]
    repo = cluster_repo(
        tmp / "repo",
        {"apps.yaml": apps},
        {"apps/kustomization.yaml": overlay, "apps/deploy.yaml": DEPLOYMENT},
    )
    if extra:
        (repo / "clusters/test/extra.yaml").write_text(extra)
    return repo


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    return code, out.err


OVERLAY = "resources:\n- deploy.yaml\n"

CASES = {
    "integer-too-long": (
        OVERLAY + "replicas:\n- name: web\n  count: " + "9" * 4400 + "\n",
        None,
        "",
        "kustomization.yaml:5:",
    ),
    "integer-key": (OVERLAY + "1: 2\n", ks("apps", "./apps", patches=PATCHES), "", "kustomization.yaml:3:"),
    "set": (OVERLAY + "labels: !!set {a, b}\n", None, "", "kustomization.yaml:3:"),
    "patches-true-with-flux-patches": (
        OVERLAY + "patches: true\n",
        ks("apps", "./apps", patches=PATCHES),
        "",
        "`patches` in kustomization.yaml must be a list",
    ),
    "substitute-from-5": (OVERLAY, ks("apps", "./apps", postBuild={"substituteFrom": 5}), "", "apps.yaml:"),
    "helmrelease-chart-string": (OVERLAY, None, HELMRELEASE.format(spec='  chart: "x"'), "extra.yaml:"),
    "helmrelease-values-from-5": (
        OVERLAY,
        None,
        HELMRELEASE.format(
            spec="  valuesFrom: 5\n  chart:\n    spec: {chart: x, sourceRef: {kind: HelmRepository, name: r}}"
        ),
        "extra.yaml:",
    ),
    "resourceset-resources-5": (
        OVERLAY,
        None,
        "apiVersion: fluxcd.controlplane.io/v1\nkind: ResourceSet\nmetadata: {name: rs, namespace: default}\n"
        "spec:\n  resources: 5\n",
        "extra.yaml:",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_repository_input_is_a_located_error(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    overlay, flux_ks, extra, where = CASES[case]
    repo = _repo(tmp_path, overlay, flux_ks, extra)
    code, err = _run(["build", "-C", str(repo)], capsys)
    assert code == 1, err
    assert "error:" in err and where in err, err


def test_fleet_yaml_control_character_and_huge_integer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "fleet.yaml").write_text(
        "apiVersion: fluxfleet.dev/v1alpha1\nkind: Fleet\nmetadata:\n  name: \x01t\n"
    )
    code, err = _run(["generate", "-C", str(tmp_path)], capsys)
    assert code == 2 and "fleet.yaml:4:" in err and "control characters" in err
    (tmp_path / "fleet.yaml").write_text(
        "apiVersion: fluxfleet.dev/v1alpha1\nkind: Fleet\nx: " + "7" * 5000 + "\n"
    )
    code, err = _run(["generate", "-C", str(tmp_path)], capsys)
    assert code == 2 and "fleet.yaml:3:" in err and "5000 digits" in err


def test_long_path_component_in_an_argument(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path, OVERLAY)
    for args in (["-C", str(repo / ("c" * 300))], ["-C", str(repo), "--source", "x=" + "c" * 300]):
        code, err = _run(["build", *args], capsys)
        assert code == 2, err
        assert "File name too long" in err


def test_brackets_are_never_read_as_markup(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path, OVERLAY)
    code, err = _run(["build", "-C", str(repo), "--cluster", "[/x]"], capsys)
    assert code == 2 and "'[/x]'" in err
    code, err = _run(["build", "-C", str(repo), "--cluster", "[bold]team[/bold]"], capsys)
    assert code == 2 and "[bold]team[/bold]" in err
    # A tool's message with brackets (kustomize's own error) reaches the user whole.
    (repo / "apps/kustomization.yaml").write_text("resources:\n- '[/x]/missing.yaml'\n")
    code, err = _run(["build", "-C", str(repo)], capsys)
    assert code == 1 and "[/x]" in err


def test_a_bug_exits_70_with_a_crash_report_and_no_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The one stand-in of this file: a deliberate bug, since every known crash is fixed.
    from fluxfleet.cli import render_cmds

    secret = "s3cr3t-token-" + "value-0042"  # built, so the traceback's source line cannot hold it
    arg_value = "sekrit-" + "arg-77"
    monkeypatch.setenv("FLUXFLEET_TEST_TOKEN", secret)
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError(f"unexpected {secret} and value {arg_value}")

    monkeypatch.setattr(render_cmds, "render_clusters", broken)
    code = main(["build", "-C", str(tmp_path), "--source", f"x={arg_value}"])
    out = capsys.readouterr()
    assert code == 70
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and "crash" in lines[0], out.err
    reports = list((state / "fluxfleet" / "crash").iterdir())
    assert len(reports) == 1 and str(reports[0]) in lines[0]
    text = reports[0].read_text()
    assert "RuntimeError" in text and "command: fluxfleet build -C --source" in text
    assert "render_cmds.py" in text  # the traceback frames
    assert secret not in text and arg_value not in text
    assert oct(os.stat(reports[0]).st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("option", [["--source", "x=a\0b"], ["-o", "dir:/tmp/x\0y"], ["--path", "a\0b"]])
def test_nul_in_a_path_argument(
    option: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(tmp_path, OVERLAY)
    code, err = _run(["build", "-C", str(repo), *option], capsys)
    assert code == 2, err


def test_a_number_as_a_key_in_a_rendered_object_is_a_finding_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(tmp_path, "resources:\n- deploy.yaml\n- cm.yaml\n")
    (repo / "apps/cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {1.5: x}\n"
    )
    code, err = _run(["check", "-C", str(repo), "-o", "json"], capsys)
    assert code in (0, 1), err
