"""The clock adapter: promotion gates (windows, freezes, soak) ask it for the time.

The CLI passes the system clock, or a fixed one from ``--now``/``FLUXFLEET_NOW`` so that scripts
and tests can ask "would this promotion pass at that moment" without waiting for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from fluxfleet.errors import FleetError


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class FixedClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


def clock_at(value: str | None, *, field: str = "--now") -> Clock:
    """The system clock, or a fixed one at ``value`` (ISO 8601; UTC when no offset is given)."""
    if not value:
        return SystemClock()
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise FleetError(
            f"invalid time {value!r}", field=field, hint="use ISO 8601, e.g. 2026-03-02T10:00:00Z"
        ) from None
    return FixedClock(at if at.tzinfo is not None else at.replace(tzinfo=UTC))
