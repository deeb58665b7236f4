"""Scan results cached by image digest: a digest names one image forever, a tag does not.

One JSON file per digest (findings only: a scan result holds no secret), written atomically.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import platformdirs

from fluxfleet.fsutil import write_plan
from fluxfleet.scan.model import ImageReport, Vulnerability

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class ScanCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @staticmethod
    def _file(digest: str) -> str | None:
        return f"sha256-{digest.removeprefix('sha256:')}.json" if _DIGEST.match(digest) else None

    def get(self, digest: str) -> ImageReport | None:
        name = self._file(digest)
        path = self.directory / name if name else None
        if path is None or not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            vulns = tuple(Vulnerability.from_dict(v) for v in data["vulnerabilities"])
            return ImageReport(
                f"cache ({data.get('scanner', '?')})",
                frozenset(data.get("references", [])),
                frozenset(data.get("digests", [digest])),
                vulns,
                scanner=str(data.get("scanner", "")),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a damaged entry is a miss; the next scan rewrites it

    def put(self, report: ImageReport) -> None:
        data = {
            "scanner": report.scanner,
            "references": sorted(report.references),
            "digests": sorted(report.digests),
            "vulnerabilities": [v.as_dict() for v in report.vulnerabilities],
        }
        plan = {}
        for digest in report.digests:
            name = self._file(digest)
            if name:
                plan[name] = json.dumps(data, sort_keys=True) + "\n"
        if plan:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_plan(self.directory, plan)


def default_cache() -> ScanCache:
    return ScanCache(Path(platformdirs.user_cache_dir("fluxfleet")) / "scan")
