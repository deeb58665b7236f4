"""What a scan says about one image, whatever report format it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fluxfleet.fleet.scanpolicy import SEVERITY_ORDER, Severity


def severity(value: Any) -> Severity:
    """Scanner spellings (Trivy ``HIGH``, Grype ``High``/``Negligible``, CycloneDX ``info``/``none``)."""
    text = str(value or "").strip().lower()
    if text in ("negligible", "info", "none"):
        return "low"
    for known in SEVERITY_ORDER:
        if text == known:
            return known
    return "unknown"


def from_score(score: float) -> Severity:
    """CVSS v3 qualitative rating of a 0-10 score (what SARIF ``security-severity`` carries)."""
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    if score > 0.0:
        return "low"
    return "unknown"


@dataclass(frozen=True, order=True)
class Vulnerability:
    id: str
    package: str
    installed: str
    severity: Severity
    # True: a fixed version exists; False: the scanner says none (won't fix / not fixed); None: unknown
    fixed: bool | None
    fixed_version: str = ""
    title: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "package": self.package,
            "installed": self.installed,
            "severity": self.severity,
            "fixed": self.fixed,
            "fixedVersion": self.fixed_version,
            "title": self.title,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vulnerability:
        fixed = data.get("fixed")
        return cls(
            str(data["id"]),
            str(data.get("package", "")),
            str(data.get("installed", "")),
            severity(data.get("severity")),
            fixed if isinstance(fixed, bool) else None,
            str(data.get("fixedVersion", "")),
            str(data.get("title", "")),
        )


@dataclass(frozen=True)
class ImageReport:
    """One scanned image: the references and digests it is known by, and what was found.

    ``vex`` holds VEX statements (vulnerability id -> analysis state) that apply to this image,
    from any report; ``source`` names the report file or the scanner.
    """

    source: str
    references: frozenset[str]
    digests: frozenset[str]
    vulnerabilities: tuple[Vulnerability, ...]
    vex: dict[str, str] = field(default_factory=dict)
    scanner: str = ""
