"""Counts shared by every report format."""

from __future__ import annotations

from typing import Any

from fluxfleet.check.model import CheckResult, Severity


def summary(result: CheckResult, fail_on: Severity) -> dict[str, Any]:
    by_severity = {s.value: 0 for s in reversed(Severity)}
    for f in result.findings:
        by_severity[f.severity.value] += 1
    return {
        "clusters": result.stats.clusters,
        "objects": result.stats.objects,
        "rules": len(result.rules),
        "findings": len(result.findings),
        "bySeverity": by_severity,
        "suppressed": len(result.suppressed),
        "failOn": fail_on.value,
        "failing": len(result.failing(fail_on)),
    }
