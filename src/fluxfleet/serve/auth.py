"""Who is calling and what they may do (pure).

A principal holds scopes: ``viewer``; ``approver:<env>`` or ``approver:<env>:<team>`` (``*`` for every environment); ``admin``.
API tokens carry scopes directly; signed-in users get them from their identity provider groups
through ``spec.service.roles`` of fleet.yaml. ``admin`` may do everything; any approver may read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from fluxfleet.errors import FleetError
from fluxfleet.fleet.service import RoleBinding

_SCOPE = re.compile(r"^(viewer|admin|approver:(\*|[a-z0-9-]{1,63})(:[a-z0-9-]{1,63})?)$")


def check_scope(scope: str) -> str:
    if not _SCOPE.match(scope):
        raise FleetError(
            f"unknown scope {scope!r}",
            field="--scope",
            hint="use viewer, admin, approver:<env> or approver:<env>:<team>",
        )
    return scope


@dataclass(frozen=True)
class Principal:
    subject: str
    scopes: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes

    def can_read(self) -> bool:
        return bool(self.scopes)

    def can_approve(self, env: str, team: str | None) -> bool:
        if self.is_admin:
            return True
        for e in (env, "*"):
            if f"approver:{e}" in self.scopes or (team and f"approver:{e}:{team}" in self.scopes):
                return True
        return False


def scopes_from_groups(groups: Iterable[str], bindings: Iterable[RoleBinding]) -> frozenset[str]:
    """The scopes the identity provider's groups grant under fleet.yaml's role bindings."""
    have = set(groups)
    out: set[str] = set()
    for b in bindings:
        if b.group not in have:
            continue
        if b.role != "approver":
            out.add(b.role)
            continue
        for env in b.environments or ("*",):
            if b.teams:
                out.update(f"approver:{env}:{team}" for team in b.teams)
            else:
                out.add(f"approver:{env}")
    return frozenset(out)


def same_person(a: str, b: str) -> bool:
    """Identities compared by e-mail when both carry one (git's ``Name <mail>`` vs an IdP's mail)."""

    def norm(x: str) -> str:
        m = re.search(r"<([^>]+)>", x)
        return (m.group(1) if m else x).strip().lower()

    return norm(a) == norm(b)
