"""Adapters for the scanners fluxfleet can run itself: ``trivy`` and ``grype`` from PATH.

Both print their own JSON report, parsed by the same code as a report file from CI.
"""

from __future__ import annotations

import json
from typing import Protocol

from fluxfleet import proc
from fluxfleet.errors import FleetError
from fluxfleet.scan.model import ImageReport
from fluxfleet.scan.reports import parse_grype, parse_trivy

SCAN_TIMEOUT = 900.0  # a first run downloads the vulnerability database


class Scanner(Protocol):
    name: str

    def command(self, ref: str) -> list[str]: ...

    def parse(self, text: str, ref: str) -> ImageReport: ...


class Trivy:
    name = "trivy"

    def __init__(self, binary: str) -> None:
        self.binary = binary

    def command(self, ref: str) -> list[str]:
        return [self.binary, "image", "--quiet", "--format", "json", "--scanners", "vuln", ref]

    def parse(self, text: str, ref: str) -> ImageReport:
        return parse_trivy(_json(text, self.name), f"trivy {ref}")


class Grype:
    name = "grype"

    def __init__(self, binary: str) -> None:
        self.binary = binary

    def command(self, ref: str) -> list[str]:
        return [self.binary, "--quiet", "--output", "json", f"registry:{ref}"]

    def parse(self, text: str, ref: str) -> ImageReport:
        return parse_grype(_json(text, self.name), f"grype {ref}")


def _json(text: str, scanner: str) -> dict[str, object]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FleetError(f"{scanner} printed no JSON report: {exc.msg}") from None
    if not isinstance(doc, dict):
        raise FleetError(f"{scanner} printed no JSON report")
    return doc


def find_scanner(preference: str = "auto") -> Scanner | None:
    """trivy first, then grype; ``none`` never runs one (reports only)."""
    if preference == "none":
        return None
    kinds: dict[str, type[Trivy] | type[Grype]] = {"trivy": Trivy, "grype": Grype}
    names = list(kinds) if preference == "auto" else [preference]
    for name in names:
        if name not in kinds:
            raise FleetError(f"unknown scanner {name!r}", hint="use auto, trivy, grype or none")
        binary = proc.find_tool(name)
        if binary is not None:
            return kinds[name](binary)
    if preference != "auto":
        raise FleetError(f"{preference} is not on PATH", hint="install it, or give reports with --report")
    return None


def run_scanner(scanner: Scanner, ref: str) -> ImageReport:
    result = proc.run(scanner.command(ref), timeout=SCAN_TIMEOUT, what=f"{scanner.name} {ref}")
    return scanner.parse(result.text, ref)
