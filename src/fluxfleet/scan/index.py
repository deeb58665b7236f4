"""Find the report of an image: by digest when the image is pinned to one, else by reference.

VEX statements about the image are gathered from every report that names it, so a CycloneDX VEX
document from the team can silence a finding of the Trivy report CI made.
"""

from __future__ import annotations

from dataclasses import replace

from fluxfleet.scan.model import ImageReport
from fluxfleet.scan.refs import ImageRef


class ReportIndex:
    def __init__(self, reports: list[ImageReport]) -> None:
        self.reports = reports

    def _matching(self, ref: ImageRef) -> list[ImageReport]:
        by_digest = [r for r in self.reports if ref.digest and ref.digest in r.digests]
        # a report for another digest of the same tag is about another image; one without any
        # digest can only be matched by its reference
        by_ref = [
            r
            for r in self.reports
            if ref.tag and ref.reference in r.references and not (ref.digest and r.digests)
        ]
        # a digest match is certain; a tag may have moved since a reference-matched report was made
        return by_digest or by_ref

    def lookup(self, ref: ImageRef) -> ImageReport | None:
        found = self._matching(ref)
        if not found:
            return None
        vex: dict[str, str] = {}
        for r in found:
            vex.update(r.vex)
        # the report with findings wins over a VEX-only document
        primary = max(found, key=lambda r: (bool(r.vulnerabilities) and not r.vex, len(r.vulnerabilities)))
        return replace(primary, vex=vex)
