"""JSON report: summary, findings, suppressed findings and the rules that ran."""

from __future__ import annotations

import json

from fluxfleet.check.model import CheckResult, Severity
from fluxfleet.report.summary import summary


def to_json(result: CheckResult, *, fail_on: Severity) -> str:
    data = {
        "summary": summary(result, fail_on),
        "findings": [f.to_dict() for f in result.findings],
        "suppressed": [f.to_dict() for f in result.suppressed],
        "rules": [
            {"id": r.id, "severity": r.severity.value, "category": r.category, "doc": r.doc, "hint": r.hint}
            for r in result.rules
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
