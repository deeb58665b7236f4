"""Scan the images of environments: reports first (what CI made), then the cache, then a scanner.

``scan_images`` is the whole use case once the images are known; the CLI finds them in the render
and ``promote`` passes the one image it is about to move.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from fluxfleet import yamlio
from fluxfleet.errors import FleetError
from fluxfleet.fleet.scanpolicy import ScanPolicy
from fluxfleet.fsutil import safe_join
from fluxfleet.scan.cache import ScanCache
from fluxfleet.scan.index import ReportIndex
from fluxfleet.scan.model import ImageReport
from fluxfleet.scan.policy import ImageVerdict, failed, judge
from fluxfleet.scan.refs import parse_ref
from fluxfleet.scan.reports import parse_report
from fluxfleet.scan.scanners import Scanner, run_scanner

MAX_REPORT_BYTES = 64 * 1024 * 1024
MAX_REPORTS = 2000


def read_report_file(path: Path, display: str | None = None) -> list[ImageReport]:
    name = display or str(path)
    return parse_report(yamlio.read_text(path, display=name, max_bytes=MAX_REPORT_BYTES), name)


def reports_in_folder(repo: Path, folder: str) -> list[ImageReport]:
    """Every ``*.json`` report under a repository folder (absent folder: none)."""
    root = safe_join(repo, folder, field="scan.reports")
    if not root.is_dir():
        return []
    out: list[ImageReport] = []
    files = sorted(p for p in root.rglob("*.json") if p.is_file() and not p.is_symlink())
    if len(files) > MAX_REPORTS:
        raise FleetError(f"{len(files)} reports in {folder}, over the limit of {MAX_REPORTS}", file=folder)
    for path in files:
        rel = path.relative_to(repo.resolve()).as_posix()
        safe_join(repo, rel, field="scan.reports")
        out.extend(read_report_file(path, rel))
    return out


@dataclass
class Sources:
    index: ReportIndex
    cache: ScanCache | None = None
    scanner: Scanner | None = None

    def report_for(self, image: str) -> ImageReport | None:
        ref = parse_ref(image)
        found = self.index.lookup(ref)
        if found is not None and (found.vulnerabilities or not found.vex):
            return found
        vex = found.vex if found is not None else {}
        cached = self.cache.get(ref.digest) if self.cache and ref.digest else None
        if cached is not None:
            return replace(cached, vex=vex)
        if self.scanner is not None:
            scanned = run_scanner(self.scanner, image)
            if self.cache is not None:
                self.cache.put(scanned)
            return replace(scanned, vex=vex)
        return None  # at most a VEX document: statements about findings nobody has made


@dataclass(frozen=True)
class EnvScan:
    env: str
    policy: ScanPolicy
    verdicts: tuple[ImageVerdict, ...]

    @property
    def failed(self) -> bool:
        return any(failed(v) for v in self.verdicts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "environment": self.env,
            "status": "fail" if self.failed else ("pass" if self.policy.max_severity else "report"),
            "maxSeverity": self.policy.max_severity,
            "fixedOnly": self.policy.fixed_only,
            "images": [v.as_dict() for v in self.verdicts],
        }


def scan_images(
    images: dict[str, list[str]],
    policies: dict[str, ScanPolicy],
    sources: Sources,
    today: date,
    advance: Callable[[], None] = lambda: None,
) -> list[EnvScan]:
    """``images``: environment -> image references; one verdict per image and environment."""
    out = []
    seen: dict[str, ImageReport | None] = {}
    for env, refs in images.items():
        verdicts = []
        for image in sorted(set(refs)):
            if image not in seen:
                seen[image] = sources.report_for(image)
                advance()
            verdicts.append(judge(policies[env], image, seen[image], today))
        out.append(EnvScan(env, policies[env], tuple(verdicts)))
    return out
