"""Scanner reports in each format (written from the formats' public specs, with unknown fields and
missing digests), matching by digest or reference, VEX, the policy, the cache and the scanners'
command lines and real output shapes."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from fluxfleet.errors import FleetError
from fluxfleet.fleet.scanpolicy import AcceptedVulnerability, ScanPolicy
from fluxfleet.scan.cache import ScanCache
from fluxfleet.scan.index import ReportIndex
from fluxfleet.scan.model import ImageReport, Vulnerability
from fluxfleet.scan.policy import judge
from fluxfleet.scan.refs import parse_ref
from fluxfleet.scan.reports import parse_report
from fluxfleet.scan.run import Sources, read_report_file, reports_in_folder
from fluxfleet.scan.scanners import Grype, Trivy, find_scanner

REPORTS = Path(__file__).parent / "reports"
WEB_DIGEST = "sha256:1739e79cd73b2c291b8f4158ca3df01c2e63e56826c69f1c82d1df3541e7abf2"
WORKER_DIGEST = "sha256:87eba76e7f3164534045ba922e7770fb58bbd14ad732bbf5ba6f11cc56989e6e"
TODAY = date(2026, 12, 1)


def _one(name: str) -> ImageReport:
    reports = read_report_file(REPORTS / name)
    assert len(reports) == 1
    return reports[0]


def _by_id(report: ImageReport) -> dict[str, Vulnerability]:
    return {v.id: v for v in report.vulnerabilities}


def test_trivy_json() -> None:
    r = _one("trivy-web-v2.json")
    assert r.scanner == "trivy"
    assert r.references == {"ghcr.io/acme/web:v2"} and r.digests == {WEB_DIGEST}
    v = _by_id(r)
    assert [(x.severity, x.fixed, x.fixed_version) for x in v.values()] == [
        ("critical", True, "3.0.13-1"),
        ("high", False, ""),
        ("low", False, ""),
    ]


def test_grype_json_without_digest() -> None:
    r = _one("grype-api-v1.json")
    assert r.references == {"ghcr.io/acme/api:v1"} and r.digests == frozenset()
    v = _by_id(r)
    assert v["GHSA-aaaa-bbbb-cccc"].severity == "high" and v["GHSA-aaaa-bbbb-cccc"].fixed is True
    assert v["CVE-2024-0101"].severity == "low" and v["CVE-2024-0101"].fixed is False
    assert v["CVE-2024-0102"].fixed is None


def test_sarif_run_properties_name_the_image() -> None:
    r = _one("sarif-worker.json")
    assert r.references == {"registry.example.com/acme/worker:v3"} and r.digests == {WORKER_DIGEST}
    v = _by_id(r)
    curl = v["CVE-2024-0200"]
    assert (curl.severity, curl.package, curl.installed, curl.fixed_version) == (
        "high",
        "curl",
        "8.5.0",
        "8.6.0",
    )
    assert v["CVE-2024-0201"].severity == "low" and v["CVE-2024-0201"].fixed is None


def test_cyclonedx_with_vex() -> None:
    jobs = _one("cyclonedx-jobs.json")
    assert jobs.references == {"ghcr.io/acme/jobs:v7"} and not jobs.digests
    v = _by_id(jobs)
    assert v["CVE-2024-0300"].severity == "high" and v["CVE-2024-0300"].package == "requests"
    assert v["CVE-2024-0300"].fixed is True
    assert jobs.vex == {"CVE-2024-0300": "exploitable", "CVE-2024-0301": "false_positive"}
    vex = _one("cyclonedx-web-v2-vex.json")
    assert vex.digests == {WEB_DIGEST} and "ghcr.io/acme/web:v2" in vex.references


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not a JSON scan report"),
        ("[]", "expected a JSON object"),
        ('{"a": 1}', "unrecognised"),
        ("[" * 100000 + "]" * 100000, "nested too deeply"),
    ],
)
def test_bad_reports_are_user_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(FleetError, match=message) as err:
        read_report_file(path)
    assert err.value.exit_code == 2 and str(path) in str(err.value)


def _index() -> ReportIndex:
    return ReportIndex([r for p in sorted(REPORTS.glob("*.json")) for r in read_report_file(p)])


def test_match_by_digest_or_reference() -> None:
    index = _index()
    by_digest = index.lookup(parse_ref(f"ghcr.io/acme/web@{WEB_DIGEST}"))
    assert by_digest is not None and by_digest.scanner == "trivy"
    # VEX from the CycloneDX document reaches the Trivy findings of the same image
    assert by_digest.vex == {"CVE-2024-0001": "not_affected"}
    assert index.lookup(parse_ref("ghcr.io/acme/web:v2")) is not None
    # same tag, another digest: another image, not this report
    other = "sha256:" + "0" * 64
    assert index.lookup(parse_ref(f"ghcr.io/acme/web:v2@{other}")) is None
    # a report without digest is still found for a pinned image by its reference
    assert index.lookup(parse_ref(f"ghcr.io/acme/api:v1@{other}")) is not None
    assert index.lookup(parse_ref("ghcr.io/acme/api:v2")) is None
    assert index.lookup(parse_ref("docker.io/library/nginx:1")) is None


def test_policy_max_severity_vex_fixed_only_and_acceptances() -> None:
    index = _index()
    web = index.lookup(parse_ref("ghcr.io/acme/web:v2"))
    assert web is not None
    strict = judge(ScanPolicy(maxSeverity="medium"), "ghcr.io/acme/web:v2", web, TODAY)
    # CVE-2024-0001 (critical) is not_affected by VEX; the high one without fix still breaks medium
    assert strict.status == "fail"
    assert [v.id for v in strict.violations] == ["CVE-2024-0002"]
    assert strict.not_affected == ("CVE-2024-0001 (not_affected)",)
    assert strict.counts == {"high": 1, "low": 1}
    fixed_only = judge(ScanPolicy(maxSeverity="medium", fixedOnly=True), "ghcr.io/acme/web:v2", web, TODAY)
    assert fixed_only.status == "pass"
    accept = AcceptedVulnerability(id="CVE-2024-0002", expires="2026-12-31", reason="no fix upstream")
    accepted = judge(ScanPolicy(maxSeverity="medium", accept=(accept,)), "ghcr.io/acme/web:v2", web, TODAY)
    assert accepted.status == "pass" and accepted.accepted[0].startswith("CVE-2024-0002 until 2026-12-31")
    expired = judge(
        ScanPolicy(maxSeverity="medium", accept=(accept,)), "ghcr.io/acme/web:v2", web, date(2027, 1, 1)
    )
    assert expired.status == "fail" and "acceptance of CVE-2024-0002 expired on 2026-12-31" in expired.notes
    scoped = AcceptedVulnerability(
        id="CVE-2024-0002", expires="2026-12-31", reason="r", image="ghcr.io/acme/api"
    )
    assert (
        judge(ScanPolicy(maxSeverity="medium", accept=(scoped,)), "ghcr.io/acme/web:v2", web, TODAY).status
        == "fail"
    )
    assert judge(ScanPolicy(), "ghcr.io/acme/web:v2", web, TODAY).status == "report"
    assert judge(ScanPolicy(maxSeverity="low"), "x:1", None, TODAY).status == "unscanned"


def test_false_positive_in_the_same_cyclonedx_report_does_not_count() -> None:
    jobs = _index().lookup(parse_ref("ghcr.io/acme/jobs:v7"))
    verdict = judge(ScanPolicy(maxSeverity="high"), "ghcr.io/acme/jobs:v7", jobs, TODAY)
    assert verdict.status == "pass" and verdict.not_affected == ("CVE-2024-0301 (false_positive)",)


def test_cache_by_digest(tmp_path: Path) -> None:
    cache = ScanCache(tmp_path / "cache")
    web = _one("trivy-web-v2.json")
    cache.put(web)
    got = cache.get(WEB_DIGEST)
    assert got is not None and got.vulnerabilities == web.vulnerabilities
    assert cache.get("sha256:" + "1" * 64) is None
    assert cache.get("../../etc/passwd") is None
    (tmp_path / "cache" / f"sha256-{WEB_DIGEST[7:]}.json").write_text("{broken")
    assert cache.get(WEB_DIGEST) is None
    cache.put(_one("grype-api-v1.json"))  # no digest: nothing to key it by
    assert len(list((tmp_path / "cache").iterdir())) == 1


def test_sources_use_the_cache_for_pinned_images(tmp_path: Path) -> None:
    cache = ScanCache(tmp_path)
    cache.put(_one("trivy-web-v2.json"))
    sources = Sources(ReportIndex([]), cache)
    assert sources.report_for(f"ghcr.io/acme/web@{WEB_DIGEST}") is not None
    assert sources.report_for("ghcr.io/acme/web:v2") is None  # a tag is not a cache key


def test_scanner_command_lines_and_their_json_output() -> None:
    trivy = Trivy("/opt/bin/trivy")
    assert trivy.command("ghcr.io/acme/web:v2") == [
        "/opt/bin/trivy",
        "image",
        "--quiet",
        "--format",
        "json",
        "--scanners",
        "vuln",
        "ghcr.io/acme/web:v2",
    ]
    parsed = trivy.parse((REPORTS / "trivy-web-v2.json").read_text(), "ghcr.io/acme/web:v2")
    assert parsed.source == "trivy ghcr.io/acme/web:v2" and len(parsed.vulnerabilities) == 3
    grype = Grype("/opt/bin/grype")
    assert grype.command("ghcr.io/acme/api:v1") == [
        "/opt/bin/grype",
        "--quiet",
        "--output",
        "json",
        "registry:ghcr.io/acme/api:v1",
    ]
    assert len(grype.parse((REPORTS / "grype-api-v1.json").read_text(), "x").vulnerabilities) == 3
    with pytest.raises(FleetError, match="printed no JSON"):
        grype.parse("error: no such image", "x")


def test_no_scanner_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert find_scanner("auto") is None and find_scanner("none") is None
    with pytest.raises(FleetError, match="trivy is not on PATH"):
        find_scanner("trivy")
    with pytest.raises(FleetError, match="unknown scanner"):
        find_scanner("clair")


def test_reports_folder_stays_inside_the_repository(tmp_path: Path) -> None:
    (tmp_path / "scans").mkdir()
    (tmp_path / "scans" / "a.json").write_text((REPORTS / "grype-api-v1.json").read_text())
    (tmp_path / "scans" / "notes.txt").write_text("ignored")
    assert len(reports_in_folder(tmp_path, "scans")) == 1
    assert reports_in_folder(tmp_path, "missing") == []
    with pytest.raises(FleetError):
        reports_in_folder(tmp_path, "../elsewhere")
    assert json.loads((REPORTS / "trivy-web-v2.json").read_text())["SchemaVersion"] == 2
    assert parse_report((REPORTS / "sarif-worker.json").read_text(), "s")[0].scanner == "Trivy"
