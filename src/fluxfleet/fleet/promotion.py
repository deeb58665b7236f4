"""Promotion settings per environment: gates and waves (used by ``fluxfleet promote``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fluxfleet.fleet.base import Duration, Name, Strict
from fluxfleet.fleet.selectors import LabelSelector


class Wave(Strict):
    """An ordered slice of an environment's clusters, promoted together."""

    name: Name
    selector: LabelSelector = Field(default_factory=LabelSelector)
    soak: Duration | None = None


class ChangeWindow(Strict):
    """Promotions are allowed only inside a window (cron-like days and hours, in a time zone)."""

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


class Freeze(Strict):
    """No promotions between ``start`` and ``end`` (ISO 8601 timestamps with offset)."""

    start: str
    end: str
    reason: str
    allow_rollback: bool = Field(default=True, alias="allowRollback")


class Promotion(Strict):
    soak: Duration | None = None
    approval: bool = False
    health: bool = False
    mode: Literal["direct", "branch"] = "direct"
    windows: tuple[ChangeWindow, ...] = ()
    freezes: tuple[Freeze, ...] = ()
    waves: tuple[Wave, ...] = ()
