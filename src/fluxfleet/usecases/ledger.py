"""Read-only promotion use cases: the version matrix, where a rollout stands, and the history
read back from the commit trailers. Each returns data for the report layer; none changes git."""

from __future__ import annotations

from typing import Any

from fluxfleet.errors import FleetError
from fluxfleet.fleet.placement import place
from fluxfleet.gitrepo.git import Git
from fluxfleet.promote import ledger, report
from fluxfleet.promote.state import env_state
from fluxfleet.usecases.clock import Clock, SystemClock
from fluxfleet.usecases.workspace import Workspace


def _records(ws: Workspace, *, app: str | None = None, env: str | None = None) -> list[ledger.Record]:
    """The ledger of the workspace's repository; empty when it is not a git repository with commits."""
    try:
        git = Git(ws.root)
        if git.head() is None:
            return []
    except FleetError:
        return []
    # Automation commits count only when made by the automation's author (fleet.yaml).
    authors = ledger.automation_authors(ws.fleet) if ws.has_fleet else {}
    return ledger.load(git, app=app, env=env, authors=authors)


def version_matrix(ws: Workspace, app: str | None = None) -> dict[str, Any]:
    """Each app's version per environment (and per cluster while a rollout is in progress)."""
    fleet = ws.fleet
    return report.version_matrix(ws.root, fleet, place(fleet), _records(ws, app=app), app)


def rollout_status(ws: Workspace, app: str, env: str, *, clock: Clock | None = None) -> dict[str, Any]:
    """The waves of ``app`` in ``env``: done, next, pending, and soak left at the clock's time."""
    fleet = ws.fleet
    state = env_state(ws.root, fleet, place(fleet), app, env)
    now = (clock or SystemClock()).now()
    return report.rollout_status(state, fleet, _records(ws, app=app, env=env), now)


def history(
    ws: Workspace, *, app: str | None = None, env: str | None = None, limit: int | None = None
) -> list[ledger.Record]:
    """Promotions, rollbacks and reverts from the trailers, newest first."""
    try:
        in_git = Git(ws.root).head() is not None
    except FleetError:
        in_git = False
    if not in_git:
        raise FleetError(
            "not a git repository with commits", file=str(ws.root), hint="history is read from git"
        )
    records = _records(ws, app=app, env=env)
    if not records and ws.has_fleet:
        # An app removed from the fleet keeps its history; only a name never seen is a typo.
        fleet = ws.fleet
        if app is not None and app not in {a.name for a in fleet.apps}:
            fleet.app(app)
        if env is not None:
            fleet.env(env)
    return records[:limit] if limit is not None else records
