"""Exceptions to rules, declared on the object they excuse.

An annotation ``exception.fluxfleet.dev/<rule-id>: "<reason>[; expires=YYYY-MM-DD]"`` suppresses
that rule's findings on that object until the expiry date (inclusive). A reason is required; an
expired, malformed or unknown-rule exception suppresses nothing and is itself a finding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

PREFIX = "exception.fluxfleet.dev/"
_EXPIRES = re.compile(r"expires\s*=\s*(\S+)")


@dataclass(frozen=True)
class RuleException:
    rule: str
    annotation: str
    reason: str
    expires: date | None
    problem: str | None = None  # set when the annotation is malformed

    def active(self, today: date) -> bool:
        return self.problem is None and (self.expires is None or today <= self.expires)


def parse(annotation: str, value: Any) -> RuleException:
    rule = annotation[len(PREFIX) :]
    text = str(value) if value is not None else ""
    reasons: list[str] = []
    expires: date | None = None
    problem: str | None = None
    for part in (p.strip() for p in text.split(";")):
        m = _EXPIRES.fullmatch(part)
        if m:
            try:
                expires = date.fromisoformat(m.group(1))
            except ValueError:
                problem = f"expiry {m.group(1)!r} is not a date (YYYY-MM-DD)"
        elif part:
            reasons.append(part)
    if not reasons and problem is None:
        problem = "an exception needs a reason"
    return RuleException(rule, annotation, "; ".join(reasons), expires, problem)


def exceptions_of(body: dict[str, Any]) -> list[RuleException]:
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    if not isinstance(annotations, dict):
        return []
    return [parse(k, v) for k, v in annotations.items() if isinstance(k, str) and k.startswith(PREFIX)]
