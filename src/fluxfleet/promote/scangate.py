"""The ``scan`` gate: the version about to enter an environment must meet its vulnerability policy.

It reads the reports CI left in the environment's ``scan.reports`` folder (and the digest cache
``fluxfleet scan`` fills); it never runs a scanner, so a promotion stays offline and quick. Its
evidence names the findings the promotion would bring in that the current version does not have.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from fluxfleet.fleet.model import Environment
from fluxfleet.promote.gates import GateResult, Status
from fluxfleet.scan.cache import ScanCache, default_cache
from fluxfleet.scan.index import ReportIndex
from fluxfleet.scan.policy import judge, summary
from fluxfleet.scan.run import Sources, reports_in_folder


def scan_gate(
    repo: Path,
    env: Environment,
    image: str,
    version: str,
    current: str | None,
    today: date,
    cache: ScanCache | None = None,
) -> GateResult:
    policy = env.scan
    sources = Sources(ReportIndex(reports_in_folder(repo, policy.reports)), cache or default_cache())
    ref = f"{image}:{version}"
    verdict = judge(policy, ref, sources.report_for(ref), today)
    if verdict.status == "unscanned":
        status = Status.failed if policy.gate else Status.skipped
        return GateResult("scan", status, f"no scan report for {ref} in {policy.reports}")
    before = (
        judge(policy, f"{image}:{current}", sources.report_for(f"{image}:{current}"), today)
        if current
        else None
    )
    known = {v.id for v in before.vulnerabilities} if before else set()
    new = sorted({v.id for v in verdict.vulnerabilities} - known)
    detail = f"{ref}: {summary(verdict)}"
    if verdict.violations:
        ids = ", ".join(sorted({v.id for v in verdict.violations})[:5])
        detail += f"; {len(verdict.violations)} above {policy.max_severity}: {ids}"
    if new and before is not None:
        detail += f"; new since {current}: {', '.join(new[:5])}" + (
            f" (+{len(new) - 5})" if len(new) > 5 else ""
        )
    if not policy.gate:
        return GateResult("scan", Status.skipped, f"{detail} (gate: false)")
    return GateResult("scan", Status.failed if verdict.violations else Status.passed, detail)
