"""Gatekeeper Rego (v0 and v1) evaluated offline with regorus (``gordon-to-regorus`` on PyPI).

Gatekeeper runs a template's Rego as v0 unless ``code[].source.version`` is ``v1`` (libs use the
same version). regorus parses v0 once ``set_rego_v0(True)`` is called; it was chosen over
regopy by measured correctness on the gatekeeper-library suites (README, section policy).
The engine is compiled once per template and cloned per evaluation, which costs microseconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ENGINE = "regorus (gordon-to-regorus)"


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
            engine.add_policy(f"{source.name}/rego", source.rego)
            for i, lib in enumerate(source.libs):
                engine.add_policy(f"{source.name}/libs[{i}]", lib)
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
