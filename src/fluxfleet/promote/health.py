"""The health gate's source of evidence, behind a small interface.

Until the event service exists, evidence is a JSON (or YAML) file, by default
``.fluxfleet/health.json``::

    {"clusters": {"staging-us-west-2": {"myapp": {"version": "v1.2.3", "ready": true,
                                                   "observedAt": "2026-05-01T10:00:00Z"}}}}

A cluster passes when it reports the app Ready at exactly the promoted version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fluxfleet import yamlio
from fluxfleet.errors import FleetError


@dataclass(frozen=True)
class HealthReport:
    ok: bool
    evidence: str
    missing: bool = False  # no evidence at all (as opposed to evidence of a problem)


class HealthSource(Protocol):
    def check(self, app: str, version: str, clusters: Sequence[str]) -> HealthReport: ...


@dataclass(frozen=True)
class EvidenceFile:
    """Health evidence written to a file (by CI, a script, or later the event service)."""

    path: Path
    display: str

    def _load(self) -> dict[str, Any]:
        docs = yamlio.load_file(self.path, display=self.display)
        data = docs[0] if docs else None
        if not isinstance(data, dict) or not isinstance(data.get("clusters", {}), dict):
            raise FleetError(
                "health evidence must be a mapping with a `clusters` mapping",
                file=self.display,
                hint='{"clusters": {"<cluster>": {"<app>": {"version": "v1", "ready": true}}}}',
            )
        return data

    def check(self, app: str, version: str, clusters: Sequence[str]) -> HealthReport:
        if not self.path.is_file():
            return HealthReport(
                False,
                f"no health evidence: {self.display} does not exist (the event service will provide "
                "it; until then write it from your monitoring, or --force with a reason)",
                missing=True,
            )
        reported = self._load().get("clusters") or {}
        bad: list[str] = []
        for cluster in clusters:
            entry = (
                (reported.get(cluster) or {}).get(app) if isinstance(reported.get(cluster), dict) else None
            )
            if not isinstance(entry, dict):
                bad.append(f"{cluster}: no report")
            elif entry.get("version") != version:
                bad.append(f"{cluster}: reports {entry.get('version')!r}")
            elif entry.get("ready") is not True:
                bad.append(f"{cluster}: not ready")
        if bad:
            return HealthReport(False, f"{self.display}: " + "; ".join(bad))
        return HealthReport(True, f"{len(clusters)} cluster(s) ready at {version} ({self.display})")
