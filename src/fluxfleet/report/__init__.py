"""Check results as text, JSON, SARIF 2.1.0 and JUnit XML (pure: result in, string out)."""

from __future__ import annotations

from fluxfleet.check.model import CheckResult, Severity
from fluxfleet.report.json_report import to_json
from fluxfleet.report.junit import to_junit
from fluxfleet.report.sarif import to_sarif
from fluxfleet.report.text import to_text

FORMATS = ("text", "json", "sarif", "junit")


def render_report(
    result: CheckResult, fmt: str, *, fail_on: Severity, min_severity: Severity = Severity.low
) -> str:
    if fmt == "json":
        return to_json(result, fail_on=fail_on)
    if fmt == "sarif":
        return to_sarif(result)
    if fmt == "junit":
        return to_junit(result, fail_on=fail_on)
    return to_text(result, fail_on=fail_on, min_severity=min_severity)


__all__ = ["FORMATS", "render_report", "to_json", "to_junit", "to_sarif", "to_text"]
