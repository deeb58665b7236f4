"""Vulnerability policy per environment (``environments[].scan``), read by ``scan`` and ``promote``."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, field_validator

from fluxfleet.fleet.base import Strict

Severity = Literal["unknown", "low", "medium", "high", "critical"]
SEVERITY_ORDER: tuple[Severity, ...] = ("unknown", "low", "medium", "high", "critical")


class AcceptedVulnerability(Strict):
    """A CVE (or GHSA, ...) accepted until ``expires``; like a check exception, it must end."""

    id: str = Field(min_length=1)
    expires: str
    reason: str = Field(min_length=1)
    # limit the acceptance to images whose reference starts with this (default: every image)
    image: str | None = None

    @field_validator("expires")
    @classmethod
    def _date(cls, v: str) -> str:
        try:
            date.fromisoformat(v)
        except ValueError:
            raise ValueError(f"{v!r} is not a date like 2027-03-31") from None
        return v


class ScanPolicy(Strict):
    """``maxSeverity``: the highest severity allowed (none: the scan reports but never fails).

    ``fixedOnly``: only vulnerabilities with a fixed version count against ``maxSeverity``.
    ``reports``: the folder (inside the repository) where CI leaves scanner reports.
    """

    max_severity: Severity | None = Field(default=None, alias="maxSeverity")
    fixed_only: bool = Field(default=False, alias="fixedOnly")
    accept: tuple[AcceptedVulnerability, ...] = ()
    reports: str = ".fluxfleet/scans"
    gate: bool = True  # promote into this environment checks the policy

    @field_validator("reports")
    @classmethod
    def _inside(cls, v: str) -> str:
        parts = v.replace("\\", "/").split("/")
        if not v or v.startswith("/") or ".." in parts:
            raise ValueError(f"reports folder {v!r} must be a relative path inside the repository")
        return v
