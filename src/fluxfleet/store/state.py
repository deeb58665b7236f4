"""What one Flux object on one cluster last told us, folded event by event (pure).

Designed on how Flux reports (see the service notes in the README): a Kustomization's
``ReconciliationSucceeded`` is sent only when Ready=True at ``revision`` and is the only periodic
event; an ``error`` event supersedes readiness; identical failures are rate-limited for 5 minutes, so
silence never means recovery. ``ready_since`` is when the object first reported Ready at its current
revision without a failure in between: soak is measured from it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from fluxfleet.store.events import FluxEvent

# helm-controller has no periodic success: an in-sync release is silent. These reasons mean Ready.
_HELM_READY = frozenset({"InstallSucceeded", "UpgradeSucceeded", "TestSucceeded", "DriftCorrected"})


@dataclass(frozen=True)
class ObjectState:
    cluster: str
    kind: str
    namespace: str
    name: str
    ready: bool | None = None  # None: no verdict yet (only progress events so far)
    revision: str | None = None  # the revision last reported Ready (or failing)
    reason: str = ""
    message: str = ""
    last_event_at: datetime | None = None
    ready_since: datetime | None = None
    failed_at: datetime | None = None


def _is_success(event: FluxEvent) -> bool:
    if event.severity != "info":
        return False
    if event.reason == "ReconciliationSucceeded":
        return True
    return event.kind == "HelmRelease" and event.reason in _HELM_READY


def fold(state: ObjectState, event: FluxEvent) -> ObjectState:
    """The state after ``event``. An event older than the last verdict only moves ``last_event_at``
    (delivery has no ordering guarantee), never the verdict."""
    latest = max(filter(None, (state.last_event_at, event.emitted_at)))
    stale = state.last_event_at is not None and event.emitted_at < state.last_event_at
    if stale:
        return dataclasses.replace(state, last_event_at=latest)
    if event.severity == "error":
        return dataclasses.replace(
            state,
            ready=False,
            revision=event.revision or state.revision,
            reason=event.reason,
            message=event.message,
            last_event_at=latest,
            ready_since=None,
            failed_at=event.emitted_at,
        )
    if _is_success(event):
        return dataclasses.replace(
            state,
            ready=True,
            revision=event.revision,
            reason=event.reason,
            message=event.message,
            last_event_at=latest,
            ready_since=state.ready_since if state.ready is True else event.emitted_at,
        )
    return dataclasses.replace(state, last_event_at=latest)
