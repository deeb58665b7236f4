"""Scan results as SARIF 2.1.0: one rule per vulnerability id, one result per environment and image.

Results that break the environment's policy are ``error``; the others are reported at a level from
their severity, so code scanning shows the whole picture and ranks by ``security-severity``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fluxfleet import __version__
from fluxfleet.report.sarif import SCHEMA
from fluxfleet.scan.model import Vulnerability
from fluxfleet.scan.run import EnvScan

LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "unknown": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "unknown": "0.0"}


def to_scan_sarif(scans: list[EnvScan], location: str = "fleet.yaml") -> str:
    rules: dict[str, Vulnerability] = {}
    for scan in scans:
        for verdict in scan.verdicts:
            for v in verdict.vulnerabilities:
                rules.setdefault(v.id, v)
    ids = sorted(rules)
    index = {rid: i for i, rid in enumerate(ids)}
    results: list[dict[str, Any]] = []
    for scan in scans:
        for verdict in scan.verdicts:
            breaking = set(verdict.violations)
            for v in verdict.vulnerabilities:
                fixed = f", fixed in {v.fixed_version}" if v.fixed_version else ""
                ident = "|".join((scan.env, verdict.image, v.id, v.package))
                results.append(
                    {
                        "ruleId": v.id,
                        "ruleIndex": index[v.id],
                        "level": "error" if v in breaking else LEVEL[v.severity],
                        "message": {
                            "text": f"[{scan.env}] {verdict.image}: {v.id} ({v.severity}) in "
                            f"{v.package or '?'} {v.installed}{fixed}"
                        },
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": location, "uriBaseId": "%SRCROOT%"}
                                }
                            }
                        ],
                        "partialFingerprints": {
                            "fluxfleetScan/v1": hashlib.sha256(ident.encode()).hexdigest()[:32]
                        },
                        "properties": {
                            "environment": scan.env,
                            "image": verdict.image,
                            "severity": v.severity,
                            "breaksPolicy": v in breaking,
                        },
                    }
                )
    descriptors = [
        {
            "id": rid,
            "shortDescription": {"text": rules[rid].title or rid},
            "defaultConfiguration": {"level": LEVEL[rules[rid].severity]},
            "properties": {
                "tags": ["security", "vulnerability"],
                "security-severity": SECURITY_SEVERITY[rules[rid].severity],
            },
        }
        for rid in ids
    ]
    doc = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "fluxfleet-scan",
                        "version": __version__,
                        "informationUri": "https://fluxcd.io/flux/",
                        "rules": descriptors,
                    }
                },
                "automationDetails": {"id": "fluxfleet/scan/"},
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
