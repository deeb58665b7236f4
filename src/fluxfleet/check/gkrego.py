"""Gatekeeper Rego (v0 and v1) evaluated offline with regorus (``gordon-to-regorus`` on PyPI).

Gatekeeper runs a template's Rego as v0 unless ``code[].source.version`` is ``v1`` (libs use the
same version). regorus parses v0 once ``set_rego_v0(True)`` is called; it was chosen over
regopy by measured correctness on the gatekeeper-library suites (README, section policy).
The engine is compiled once per template and cloned per evaluation, which costs microseconds.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

ENGINE = "regorus (gordon-to-regorus)"


_TERM_END = set('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_])"`')


_NOT_CALL = re.compile(r"^([ \t]*)not[ \t]+([A-Za-z_][\w.]*)\(([^()\n#]*)\)[ \t]*(#.*)?$", re.MULTILINE)
_DOTTED = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")


def _bind_not_args(m: re.Match[str]) -> str:
    refs = [a.strip() for a in m.group(3).split(",") if _DOTTED.match(a.strip())]
    if not refs:
        return m.group(0)
    bound = "".join(f"_ = {r}; " for r in refs)
    return f"{m.group(1)}{bound}{m.group(0)[len(m.group(1)) :]}"


def opa_compat(source: str) -> str:
    """The module with two OPA parses spelled out where regorus 0.13 reads them differently.

    * A rule with chained bodies, ``p { A } { B }``, is OPA shorthand for ``p { A }`` and
      ``p { B }``; regorus rejects it, so the head is repeated before each extra body.
    * A body line starting with ``(`` is a new expression in OPA (a newline ends one); regorus
      reads it as a call continuing the previous line, so a ``;`` ends that line.

    * ``not f(x.y)`` with ``x.y`` undefined makes the body fail in OPA (the argument is bound
      before the negation, open-policy-agent/opa#1877); regorus lets ``not`` succeed, so such
      dotted arguments are bound first (``_ = x.y; not f(x.y)``).

    Lines stay where they are, so engine errors keep pointing at the user's line numbers.
    """
    source = _NOT_CALL.sub(_bind_not_args, source)
    inserts: list[tuple[int, str]] = []
    stack: list[str] = []
    i, n = 0, len(source)
    rule_start: int | None = None
    head: str | None = None
    last_sig = -1  # index of the last significant character outside comments
    closed_body = False  # the last bracket closed was a rule body
    line_start = True
    while i < n:
        ch = source[i]
        if ch == "#":
            while i < n and source[i] != "\n":
                i += 1
            continue
        if ch == "\n":
            line_start = True
            i += 1
            continue
        if ch in " \t\r":
            i += 1
            continue
        first_on_line, line_start = line_start, False
        if ch in '"`':
            end = i + 1
            while end < n and source[end] != ch:
                end += 2 if ch == '"' and source[end] == "\\" else 1
            last_sig = i = min(end, n - 1)
            i += 1
            continue
        if not stack and first_on_line and ch != "{":
            rule_start, head = i, None
        if (
            ch == "("
            and first_on_line
            and stack[-1:] == ["{"]
            and last_sig >= 0
            and source[last_sig] in _TERM_END
        ):
            inserts.append((last_sig + 1, ";"))
        if ch in "{[(":
            opens = ch
            if ch == "{" and not stack:
                if last_sig >= 0 and source[last_sig] == "=":
                    opens = "v"  # the value of a head such as `f(x) = {"a": x} {`
                elif head is None and rule_start is not None:
                    head = source[rule_start:i].strip()
                elif head and closed_body and source[last_sig] == "}" and not head.startswith("default"):
                    inserts.append((i, f"{head} "))
            stack.append(opens)
        elif ch in "}])" and stack:
            closed_body = stack.pop() == "{" and not stack
        last_sig = i
        i += 1
    out = source
    for pos, text in sorted(inserts, reverse=True):
        out = out[:pos] + text + out[pos:]
    return out


class RegoEvalError(Exception):
    """A template the engine cannot compile, or an evaluation that failed."""


def _clean(exc: BaseException) -> str:
    """The engine's message without the Rust stack backtrace it appends."""
    text = str(exc).split("Stack backtrace:", 1)[0].strip()
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    return " ".join(ln.strip() for ln in lines[:6]) or type(exc).__name__


def engine_version() -> str:
    try:
        from importlib.metadata import version

        return f"{ENGINE} {version('gordon-to-regorus')}"
    except Exception:  # pragma: no cover - metadata missing in odd installs
        return ENGINE


@dataclass(frozen=True)
class RegoSource:
    name: str  # shown in errors, e.g. "ConstraintTemplate/k8srequiredlabels/rego"
    rego: str
    libs: tuple[str, ...]
    version: str  # "v0" or "v1"


class RegoTemplate:
    """One template's entry module and libs, compiled; ``violations`` runs its ``violation`` rule."""

    def __init__(self, source: RegoSource, package: str) -> None:
        try:
            import regorus
        except ImportError as exc:  # pragma: no cover
            raise RegoEvalError(f"the Rego engine is unavailable: {exc}") from None
        self.rule = f"data.{package}.violation"
        engine = regorus.Engine()
        if source.version != "v1":
            engine.set_rego_v0(True)
        try:
            engine.add_policy(f"{source.name}/rego", opa_compat(source.rego))
            for i, lib in enumerate(source.libs):
                engine.add_policy(f"{source.name}/libs[{i}]", opa_compat(lib))
            # Compile now so that a broken template is reported once, not per object.
            engine.set_input_json("{}")
            engine.eval_query_as_json(self.rule)
        except Exception as exc:  # regorus raises RuntimeError/ValueError with the parser's text
            raise RegoEvalError(_clean(exc)) from None
        self._engine = engine
        self._data_json: str | None = None

    def with_data(self, data_json: str | None) -> RegoTemplate:
        """A copy holding ``data`` (the inventory) as JSON; the compiled policy is shared."""
        clone = RegoTemplate.__new__(RegoTemplate)
        clone.rule = self.rule
        clone._engine = self._engine.clone()
        clone._data_json = data_json
        if data_json:
            try:
                clone._engine.add_data_json(data_json)
            except Exception as exc:
                raise RegoEvalError(_clean(exc)) from None
        return clone

    def violations(self, input_doc: dict[str, Any]) -> list[dict[str, Any]]:
        """The elements of the ``violation`` set that carry a ``msg`` (Gatekeeper drops others)."""
        try:
            self._engine.set_input_json(json.dumps(input_doc, default=str))
            raw = self._engine.eval_query_as_json(self.rule)
        except Exception as exc:
            raise RegoEvalError(_clean(exc)) from None
        out: list[dict[str, Any]] = []
        for result in json.loads(raw).get("result") or []:
            for expr in result.get("expressions") or []:
                value = expr.get("value")
                items = value if isinstance(value, list) else []
                out.extend(v for v in items if isinstance(v, dict) and "msg" in v)
        return out
