"""Everything a promotion decision reads, gathered once per attempt from the repository at HEAD:
the fleet, its placement, the app's ledger, the clock, and git for history questions."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fluxfleet.fleet.load import FLEET_FILE, Fleet, load_fleet
from fluxfleet.fleet.placement import Placement, place
from fluxfleet.gitrepo import history
from fluxfleet.gitrepo.git import Git
from fluxfleet.promote import ledger
from fluxfleet.promote.state import EnvState, app_envs, env_state
from fluxfleet.promote.trust import trusted


@dataclass(frozen=True)
class Context:
    repo: Path
    git: Git
    fleet: Fleet
    placement: Placement
    ledger: ledger.Ledger
    now: datetime
    head: str

    def state(self, app: str, env: str) -> EnvState:
        return env_state(self.repo, self.fleet, self.placement, app, env)

    def source_env(self, app: str, env: str) -> str | None:
        """The nearest earlier environment the app is placed in (its versions come from there)."""
        envs = app_envs(self.fleet, self.placement, app)
        self.fleet.env(env)
        if env not in envs:
            return None
        idx = envs.index(env)
        return envs[idx - 1] if idx > 0 else None

    def landed(self, path: str, version: str) -> tuple[str, int] | None:
        """When ``version`` last entered the file at ``path`` (commit, committer time)."""
        return history.last_change(self.git, path, version)

    def fleet_file_of(self, app: str) -> str:
        origin = self.fleet.origins.get(f"apps/{app}")
        return origin.file if origin else FLEET_FILE

    def with_pins(self, app: str, pins: dict[str, str]) -> Fleet:
        """The fleet as it will be once ``app`` carries ``pins`` (for planning generated files)."""
        apps = tuple(
            a.model_copy(update={"pins": dict(pins)}) if a.name == app else a for a in self.fleet.apps
        )
        return dataclasses.replace(self.fleet, apps=apps)


def load_context(
    repo: Path,
    git: Git,
    now: datetime,
    app: str | None = None,
    fleet: Fleet | None = None,
    upstream: str | None = None,
) -> Context:
    """``fleet``: the fleet already loaded from HEAD's tree (read from disk when not given).
    ``upstream``: the tip of the branch the change is promoted into, when it is not HEAD."""
    repo = repo.resolve()
    head = git.require_head()
    fleet = fleet if fleet is not None else load_fleet(repo)
    if app is not None:
        fleet.app(app)
    authors = ledger.automation_authors(fleet)
    records = trusted(git, fleet, tuple(ledger.load(git, app=app, authors=authors))) if app else ()
    theirs: tuple[ledger.Record, ...] = ()
    if app and upstream and upstream != head:
        mine = {r.sha for r in records}
        extra = tuple(
            r for r in ledger.load(git, app=app, rev=upstream, authors=authors) if r.sha not in mine
        )
        theirs = trusted(git, fleet, extra)
    return Context(repo, git, fleet, place(fleet), ledger.Ledger(records, theirs), now, head)
