"""The rule registry: rule modules register their checks with the :func:`rule` decorators.

A rule id is stable (users disable it, annotate exceptions with it, and code scanning tracks it),
so registering the same id twice is a programming error raised at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from fluxfleet.check.model import ClusterCheck, ObjectCheck, Rule, Severity

_RULES: dict[str, Rule] = {}


def _add(rule: Rule) -> None:
    if rule.id in _RULES:
        raise RuntimeError(f"check rule id {rule.id!r} registered twice")
    _RULES[rule.id] = rule


def object_rule(
    id: str,
    severity: Severity,
    *,
    hint: str,
    doc: str,
    category: str,
    kinds: Iterable[str] | None = None,
) -> Callable[[ObjectCheck], ObjectCheck]:
    """Register a check that runs on each object (of ``kinds`` only, when given)."""

    def wrap(fn: ObjectCheck) -> ObjectCheck:
        _add(
            Rule(
                id=id,
                severity=severity,
                hint=hint,
                doc=doc,
                category=category,
                object_check=fn,
                kinds=frozenset(kinds) if kinds is not None else None,
            )
        )
        return fn

    return wrap


def cluster_rule(
    id: str, severity: Severity, *, hint: str, doc: str, category: str
) -> Callable[[ClusterCheck], ClusterCheck]:
    """Register a check that looks at a whole cluster at once (references, tenants, Rego)."""

    def wrap(fn: ClusterCheck) -> ClusterCheck:
        _add(Rule(id=id, severity=severity, hint=hint, doc=doc, category=category, cluster_check=fn))
        return fn

    return wrap


def declare(id: str, severity: Severity, *, hint: str, doc: str, category: str) -> None:
    """Register a rule whose findings the engine itself produces (exceptions, render errors)."""
    _add(Rule(id=id, severity=severity, hint=hint, doc=doc, category=category))


def all_rules() -> list[Rule]:
    """Every registered rule, sorted by id (the rule modules are imported first)."""
    import fluxfleet.check.rules  # noqa: F401  (registers the built-in rules)

    return sorted(_RULES.values(), key=lambda r: r.id)


def get(rule_id: str) -> Rule | None:
    import fluxfleet.check.rules  # noqa: F401

    return _RULES.get(rule_id)
