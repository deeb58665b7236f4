"""Human report: findings grouped by cluster, then rule, with file:line and the fix hint."""

from __future__ import annotations

from itertools import groupby

from fluxfleet.check.model import CheckResult, Finding, Severity
from fluxfleet.report.summary import summary


def _where(f: Finding) -> str:
    parts = [p for p in (f.location, str(f.object) if f.object else "") if p]
    return "  ".join(parts) or (f"Kustomization {f.kustomization}" if f.kustomization else "(cluster)")


def to_text(result: CheckResult, *, fail_on: Severity, min_severity: Severity = Severity.low) -> str:
    shown = [f for f in result.findings if f.severity.at_least(min_severity)]
    lines: list[str] = []
    for cluster, items in groupby(shown, key=lambda f: f.cluster):
        env = result.environments.get(cluster)
        lines.append(f"{cluster}" + (f" (environment {env})" if env else ""))
        for rule, per_rule in groupby(items, key=lambda f: f.rule):
            group = sorted(per_rule, key=lambda f: (-f.severity.rank, *f.sort_key()))
            worst = group[0].severity
            mark = "FAIL" if worst.at_least(fail_on) else ("note" if worst == Severity.info else "warn")
            lines.append(f"  {mark} {rule} [{worst.value}] ({len(group)})")
            for f in group:
                sev = "" if f.severity == worst else f" [{f.severity.value}]"
                lines.append(f"    {_where(f)}{sev}")
                lines.append(f"      {f.message}")
            lines.append(f"    hint: {group[0].hint}")
        lines.append("")
    s = summary(result, fail_on)
    counts = ", ".join(f"{n} {sev}" for sev, n in s["bySeverity"].items() if n)
    hidden = len(result.findings) - len(shown)
    lines.append(
        f"{s['findings']} finding(s) in {s['clusters']} cluster(s), {s['objects']} objects, {s['rules']} rules"
        + (f": {counts}" if counts else "")
    )
    if hidden:
        lines.append(f"{hidden} below {min_severity.value} not shown (--min-severity info shows them)")
    if result.suppressed:
        lines.append(f"{len(result.suppressed)} suppressed by exception annotations")
    verdict = "FAILED" if s["failing"] else "passed"
    lines.append(f"{verdict}: {s['failing']} finding(s) at or above {fail_on.value}")
    return "\n".join(lines) + "\n"
