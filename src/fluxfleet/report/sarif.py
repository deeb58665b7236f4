"""SARIF 2.1.0 for GitHub code scanning: one run, every rule described, results with locations.

GitHub needs a physical location per result: findings without a source file point at their
cluster's folder. ``partialFingerprints`` keep alerts stable across runs (rule, cluster, object).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fluxfleet import __version__
from fluxfleet.check.model import CheckResult, Finding, Severity

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {
    Severity.critical: "error",
    Severity.high: "error",
    Severity.medium: "warning",
    Severity.low: "note",
    Severity.info: "note",
}
# GitHub reads properties.security-severity (0-10) to rank security alerts.
SECURITY_SEVERITY = {
    Severity.critical: "9.5",
    Severity.high: "8.0",
    Severity.medium: "5.5",
    Severity.low: "3.0",
    Severity.info: "1.0",
}


def _fingerprint(f: Finding) -> str:
    ident = "|".join((f.rule, f.cluster, str(f.object or ""), f.file or "", f.message))
    return hashlib.sha256(ident.encode()).hexdigest()[:32]


def _result(f: Finding, index: dict[str, int], clusters: dict[str, str]) -> dict[str, Any]:
    uri = f.file or clusters.get(f.cluster) or "."
    physical: dict[str, Any] = {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"}}
    if f.file and f.line:
        physical["region"] = {"startLine": f.line}
    location: dict[str, Any] = {"physicalLocation": physical}
    if f.object is not None:
        location["logicalLocations"] = [
            {"name": str(f.object), "fullyQualifiedName": f"{f.cluster}/{f.object}", "kind": "object"}
        ]
    out: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": index[f.rule],
        "level": LEVEL[f.severity],
        "message": {"text": f"[{f.cluster}] {f.message}"},
        "locations": [location],
        "partialFingerprints": {"fluxfleetFinding/v1": _fingerprint(f)},
        "properties": {"cluster": f.cluster, "severity": f.severity.value},
    }
    if f.kustomization:
        out["properties"]["kustomization"] = f.kustomization
    if f.suppressed is not None:
        out["suppressions"] = [{"kind": "inSource", "justification": f.suppressed}]
    return out


def to_sarif(result: CheckResult) -> str:
    rules = sorted(result.rules, key=lambda r: r.id)
    known = {r.id for r in rules}
    index = {r.id: i for i, r in enumerate(rules)}
    descriptors = [
        {
            "id": r.id,
            "name": "".join(p.capitalize() for p in r.id.split("-")),
            "shortDescription": {"text": r.doc},
            "fullDescription": {"text": r.doc},
            "help": {"text": r.hint, "markdown": f"**Fix:** {r.hint}"},
            "defaultConfiguration": {"level": LEVEL[r.severity]},
            "properties": {
                "tags": [r.category, "fluxfleet"],
                "security-severity": SECURITY_SEVERITY[r.severity],
                "precision": "high",
            },
        }
        for r in rules
    ]
    findings = [f for f in (*result.findings, *result.suppressed) if f.rule in known]
    findings.sort(key=Finding.sort_key)
    doc = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "fluxfleet",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": "https://fluxcd.io/flux/",
                        "rules": descriptors,
                    }
                },
                "automationDetails": {"id": "fluxfleet/check/"},
                "columnKind": "unicodeCodePoints",
                "results": [_result(f, index, result.clusters) for f in findings],
            }
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
