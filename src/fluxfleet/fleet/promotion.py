"""Promotion settings per environment: gates and waves (used by ``fluxfleet promote``).

``soak`` is how long a version must have run in the previous environment before it may enter
this one; a wave's ``soak`` is how long that wave runs before the next wave may start (by default
the environment's ``soak``; ``0s`` lets the next wave follow at once).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from fluxfleet.fleet.base import Duration, Name, Strict
from fluxfleet.fleet.selectors import LabelSelector

_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


class Wave(Strict):
    """An ordered slice of an environment's clusters, promoted together.

    An empty selector takes every cluster not taken by an earlier wave.
    """

    name: Name
    selector: LabelSelector = Field(default_factory=LabelSelector)
    soak: Duration | None = None


def _timezone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {v!r} (use an IANA name such as Europe/Dublin)") from None
    return v


class ChangeWindow(Strict):
    """Promotions are allowed only inside a window (days and hours in a time zone)."""

    days: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] = (
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
    )
    start: str = "00:00"
    end: str = "24:00"
    timezone: str = "UTC"

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, v: str) -> str:
        if not _CLOCK.fullmatch(v):
            raise ValueError(f"{v!r} is not a time of day like 09:00 (24-hour clock)")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return _timezone(v)

    @model_validator(mode="after")
    def _order(self) -> ChangeWindow:
        if self.start >= self.end:
            raise ValueError(f"window start {self.start} must be before its end {self.end}")
        return self

    def describe(self) -> str:
        return f"{','.join(self.days)} {self.start}-{self.end} {self.timezone}"


def _instant(v: str) -> str:
    try:
        parsed = datetime.fromisoformat(v)
    except ValueError:
        raise ValueError(f"{v!r} is not an ISO 8601 timestamp (like 2026-12-20T00:00:00+01:00)") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{v!r} needs a UTC offset (like +00:00 or Z) so every reader sees one instant")
    return v


class Freeze(Strict):
    """No promotions between ``start`` and ``end`` (ISO 8601 with offset); ``end`` is the expiry."""

    start: str
    end: str
    reason: str = Field(min_length=1)
    allow_rollback: bool = Field(default=True, alias="allowRollback")

    @field_validator("start", "end")
    @classmethod
    def _instants(cls, v: str) -> str:
        return _instant(v)

    @model_validator(mode="after")
    def _order(self) -> Freeze:
        if datetime.fromisoformat(self.start) >= datetime.fromisoformat(self.end):
            raise ValueError(f"freeze start {self.start} must be before its end {self.end}")
        return self


class Promotion(Strict):
    soak: Duration | None = None
    approval: bool = False
    health: bool = False
    # evidence the health gate reads until the event service provides it (repository-relative or absolute)
    health_evidence: str = Field(default=".fluxfleet/health.json", alias="healthEvidence")
    mode: Literal["direct", "branch"] = "direct"
    windows: tuple[ChangeWindow, ...] = ()
    freezes: tuple[Freeze, ...] = ()
    waves: tuple[Wave, ...] = ()

    def wave_soak(self, wave: Wave) -> str | None:
        """How long ``wave`` runs before the next wave may start."""
        return wave.soak if wave.soak is not None else self.soak

    @field_validator("waves")
    @classmethod
    def _unique_waves(cls, v: tuple[Wave, ...]) -> tuple[Wave, ...]:
        seen: set[str] = set()
        for wave in v:
            if wave.name in seen:
                raise ValueError(f"duplicate wave name {wave.name!r}")
            seen.add(wave.name)
        return v
