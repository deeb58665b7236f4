"""CEL validations as Kubernetes admission runs them (Gatekeeper K8sNativeValidation and VAP).

Engine: ``common-expression-language`` (Rust cel via Python bindings), chosen over ``cel-python``
by measured correctness and speed on the gatekeeper-library suites (README, section policy).
Neither ships Kubernetes' CEL libraries; the string functions the library uses (``join``,
``replace``, ``lowerAscii``, ``upperAscii``, ``split``, ``trim``, ``indexOf``…) and the list
functions (``sum``, ``min``, ``max``, ``isSorted``, ``indexOf``, ``lastIndexOf``) are added here.

Semantics (apiserver validating/validator.go): variables are evaluated in order (a failing one
only fails the expressions that use it, as Kubernetes evaluates them lazily); a false match
condition means "not applicable"; each validation that is not ``true`` is a violation whose
message is the ``messageExpression`` result (trimmed, single line, ≤5 KiB), else ``message``,
else ``failed expression: <expression>``; compile or runtime errors are violations under
``failurePolicy: Fail`` and nothing under ``Ignore``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

MAX_MESSAGE = 5 * 1024


class CelError(Exception):
    """A CEL expression that does not compile or fails at run time."""


def _join(items: Any, sep: str = "") -> str:
    return str(sep).join(str(x) for x in items)


def _index_of(s: Any, sub: Any, start: int = 0) -> int:
    return int(s.index(sub, start)) if sub in s[start:] else -1


def _last_index_of(s: Any, sub: Any) -> int:
    if isinstance(s, str):
        return int(s.rindex(sub)) if sub in s else -1
    items = list(s)
    return len(items) - 1 - items[::-1].index(sub) if sub in items else -1


def _sum(items: Any) -> Any:
    values = list(items)
    return sum(values[1:], values[0]) if values else 0


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "join": _join,
    "replace": lambda s, old, new, n=-1: str(s).replace(old, new, n),
    "lowerAscii": lambda s: "".join(c.lower() if c.isascii() else c for c in str(s)),
    "upperAscii": lambda s: "".join(c.upper() if c.isascii() else c for c in str(s)),
    "split": lambda s, sep, n=-1: str(s).split(sep) if n < 0 else str(s).split(sep, n - 1) if n else [],
    "trim": lambda s: str(s).strip(),
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    # Kubernetes' list library (apiserver pkg/cel/library/lists.go).
    "sum": _sum,
    "min": lambda items: min(items),
    "max": lambda items: max(items),
    "isSorted": lambda items: all(a <= b for a, b in zip(list(items), list(items)[1:], strict=False)),
}


@lru_cache(maxsize=4096)
def _compile(expression: str) -> Any:
    import cel

    try:
        return cel.compile(expression)
    except Exception as exc:
        raise CelError(f"compile error: {_short(exc)}") from None


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, KeyError):
        return f"no such key: {text}"
    return text.splitlines()[0] if "\n" in text else text


def context(activation: dict[str, Any]) -> Any:
    """A CEL context with ``activation`` and the Kubernetes functions; reuse it across expressions."""
    import cel

    ctx = cel.Context()
    for name, value in activation.items():
        ctx.add_variable(name, value)
    for name, fn in FUNCTIONS.items():
        ctx.add_function(name, fn)
    return ctx


def evaluate(expression: str, ctx: Any) -> Any:
    """The value of one expression in a :func:`context`; any failure becomes :class:`CelError`."""
    program = _compile(expression)
    try:
        return program.execute(ctx)
    except CelError:
        raise
    except Exception as exc:  # the bindings raise TypeError/KeyError/RuntimeError/ValueError…
        raise CelError(_short(exc)) from None


def re2_search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches anywhere in ``text``, with the engine's linear-time (RE2-like)
    regex: patterns from a repository cannot make a run hang by backtracking."""
    try:
        return evaluate("text.matches(pattern)", context({"text": text, "pattern": pattern})) is True
    except CelError as exc:
        raise ValueError(str(exc).split(":", 1)[-1].strip().rstrip(":") or "invalid regex") from None


@dataclass(frozen=True)
class Validation:
    expression: str
    message: str = ""
    message_expression: str = ""


@dataclass(frozen=True)
class CelPolicy:
    """What K8sNativeValidation ``source`` and a ValidatingAdmissionPolicy ``spec`` share."""

    validations: tuple[Validation, ...]
    variables: tuple[tuple[str, str], ...] = ()
    match_conditions: tuple[tuple[str, str], ...] = ()
    fail_on_error: bool = True  # failurePolicy Fail (default) vs Ignore


@dataclass
class CelOutcome:
    applicable: bool = True
    messages: list[str] = field(default_factory=list)


def _message(v: Validation, ctx: Any) -> str:
    if v.message_expression:
        try:
            value = evaluate(v.message_expression, ctx)
        except CelError:
            value = None
        if isinstance(value, str):
            text = value.strip()
            if text and "\n" not in text and len(text.encode()) <= MAX_MESSAGE:
                return text
    return v.message or f"failed expression: {v.expression.strip()}"


def run(policy: CelPolicy, base: dict[str, Any], variables: dict[str, Any]) -> CelOutcome:
    """Evaluate ``policy`` with ``base`` names (object, oldObject, params…) and preset ``variables``."""
    values = dict(variables)
    ctx = context({**base, "variables": values})
    if policy.match_conditions:
        error = ""
        for name, expression in policy.match_conditions:
            try:
                value = evaluate(expression, ctx)
            except CelError as exc:
                error = error or f"matchCondition {name!r}: {exc}"
                continue
            if value is False:
                return CelOutcome(applicable=False)
            if value is not True:
                error = error or f"matchCondition {name!r} returned {value!r}, not a bool"
        if error:
            return CelOutcome(messages=[error] if policy.fail_on_error else [])
    failed: dict[str, str] = {}
    for name, expression in policy.variables:
        try:
            values[name] = evaluate(expression, ctx)
        except CelError as exc:
            failed[name] = str(exc)
            continue
        ctx.add_variable("variables", values)
    out = CelOutcome()
    for v in policy.validations:
        try:
            value = evaluate(v.expression, ctx)
        except CelError as exc:
            if policy.fail_on_error:
                used = [n for n in failed if f"variables.{n}" in v.expression]
                why = f"variable {used[0]!r}: {failed[used[0]]}" if used else str(exc)
                out.messages.append(f"expression {v.expression.strip()!r} failed: {why}")
            continue
        if value is True:
            continue
        if value is not False:
            if policy.fail_on_error:
                out.messages.append(f"expression {v.expression.strip()!r} returned {value!r}, not a bool")
            continue
        out.messages.append(_message(v, ctx))
    return out


def _pairs(items: Any, key: str = "expression") -> tuple[tuple[str, str], ...]:
    out = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get(key), str):
            out.append((str(item.get("name") or ""), str(item[key])))
    return tuple(out)


def parse_policy(
    source: dict[str, Any], *, match_key: str = "matchConditions", default_fail: bool = True
) -> CelPolicy:
    """A :class:`CelPolicy` from a K8sNativeValidation ``source`` or a VAP ``spec``."""
    validations = []
    items = source.get("validations")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("expression"), str):
            validations.append(
                Validation(
                    str(item["expression"]),
                    str(item.get("message") or ""),
                    str(item.get("messageExpression") or ""),
                )
            )
    policy = source.get("failurePolicy")
    return CelPolicy(
        validations=tuple(validations),
        variables=_pairs(source.get("variables")),
        match_conditions=_pairs(source.get(match_key)),
        fail_on_error=default_fail if policy not in ("Fail", "Ignore") else policy == "Fail",
    )
