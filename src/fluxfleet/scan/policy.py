"""An environment's vulnerability policy applied to one image's findings (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fluxfleet.fleet.scanpolicy import SEVERITY_ORDER, AcceptedVulnerability, ScanPolicy, Severity
from fluxfleet.scan.model import ImageReport, Vulnerability
from fluxfleet.scan.reports import NOT_AFFECTING


def _rank(sev: Severity) -> int:
    return SEVERITY_ORDER.index(sev)


@dataclass(frozen=True)
class ImageVerdict:
    """``status``: pass, fail, unscanned (no report and no scanner) or report (no policy to judge)."""

    image: str
    status: str
    source: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    violations: tuple[Vulnerability, ...] = ()
    accepted: tuple[str, ...] = ()
    not_affected: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    vulnerabilities: tuple[Vulnerability, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "status": self.status,
            "source": self.source,
            "counts": self.counts,
            "violations": [v.as_dict() for v in self.violations],
            "accepted": list(self.accepted),
            "notAffected": list(self.not_affected),
            "notes": list(self.notes),
        }


def _acceptance(
    vuln: Vulnerability, image: str, accepted: tuple[AcceptedVulnerability, ...]
) -> AcceptedVulnerability | None:
    for a in accepted:
        if a.id == vuln.id and (a.image is None or image.startswith(a.image)):
            return a
    return None


def judge(policy: ScanPolicy, image: str, report: ImageReport | None, today: date) -> ImageVerdict:
    if report is None:
        status = "unscanned" if policy.max_severity else "report"
        return ImageVerdict(image, status, notes=("no scan report for this image",))
    counts = dict.fromkeys(reversed(SEVERITY_ORDER), 0)
    violations: list[Vulnerability] = []
    accepted: list[str] = []
    not_affected: list[str] = []
    notes: list[str] = []
    live: list[Vulnerability] = []
    for vuln in report.vulnerabilities:
        if report.vex.get(vuln.id) in NOT_AFFECTING:
            not_affected.append(f"{vuln.id} ({report.vex[vuln.id]})")
            continue
        live.append(vuln)
        counts[vuln.severity] += 1
        if policy.max_severity is None or _rank(vuln.severity) <= _rank(policy.max_severity):
            continue
        if policy.fixed_only and vuln.fixed is False:
            continue  # fixedOnly: nothing to upgrade to yet; unknown fix state still counts
        acceptance = _acceptance(vuln, image, policy.accept)
        if acceptance is not None:
            if date.fromisoformat(acceptance.expires) >= today:
                accepted.append(f"{vuln.id} until {acceptance.expires}: {acceptance.reason}")
                continue
            notes.append(f"acceptance of {vuln.id} expired on {acceptance.expires}")
        violations.append(vuln)
    status = "report" if policy.max_severity is None else ("fail" if violations else "pass")
    return ImageVerdict(
        image,
        status,
        report.source,
        {k: v for k, v in counts.items() if v},
        tuple(sorted(set(violations), key=lambda v: (-_rank(v.severity), v.id, v.package))),
        tuple(sorted(set(accepted))),
        tuple(sorted(set(not_affected))),
        tuple(sorted(set(notes))),
        tuple(live),
    )


def failed(verdict: ImageVerdict) -> bool:
    return verdict.status in ("fail", "unscanned")


def summary(verdict: ImageVerdict) -> str:
    if verdict.status == "unscanned":
        return "not scanned"
    counts = ", ".join(f"{n} {sev}" for sev, n in verdict.counts.items()) or "no vulnerabilities"
    return counts
