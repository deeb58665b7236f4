"""JUnit XML: a test suite per cluster, a test case per rule; findings at or above the fail-on
severity are failures, lower ones are listed in the case's output."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from fluxfleet.check.model import CheckResult, Finding, Severity


def _line(f: Finding) -> str:
    where = "  ".join(p for p in (f.location, str(f.object) if f.object else "") if p)
    return f"[{f.severity.value}] {where}: {f.message}" if where else f"[{f.severity.value}] {f.message}"


def to_junit(result: CheckResult, *, fail_on: Severity) -> str:
    per: dict[str, dict[str, list[Finding]]] = defaultdict(lambda: defaultdict(list))
    for f in result.findings:
        per[f.cluster][f.rule].append(f)
    root = ET.Element("testsuites", name="fluxfleet check")
    total = failures = 0
    for cluster in sorted(set(result.clusters) | set(per)):
        suite = ET.SubElement(root, "testsuite", name=cluster)
        n = fails = 0
        for rule in result.rules:
            found = per[cluster].get(rule.id, [])
            case = ET.SubElement(suite, "testcase", classname=f"fluxfleet.{cluster}", name=rule.id)
            n += 1
            failing = [f for f in found if f.severity.at_least(fail_on)]
            if failing:
                fails += 1
                fail = ET.SubElement(
                    case,
                    "failure",
                    message=f"{len(failing)} finding(s) at or above {fail_on.value}: {failing[0].message}",
                    type=max(failing, key=lambda f: f.severity.rank).severity.value,
                )
                fail.text = "\n".join(_line(f) for f in failing) + f"\nhint: {rule.hint}"
            rest = [f for f in found if not f.severity.at_least(fail_on)]
            if rest:
                ET.SubElement(case, "system-out").text = "\n".join(_line(f) for f in rest)
        suite.set("tests", str(n))
        suite.set("failures", str(fails))
        suite.set("errors", "0")
        total += n
        failures += fails
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
