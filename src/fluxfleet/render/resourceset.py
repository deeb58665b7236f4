"""Expand Flux Operator ResourceSets whose inputs are static (``spec.inputs``).

flux-operator renders ``spec.resources`` (and ``spec.resourcesTemplate``) once per input set with Go
templates delimited by ``<<`` and ``>>``. fluxfleet evaluates the common subset: field references
(``<< inputs.app.version >>``), pipes through ``quote``, ``squote``, ``lower``, ``upper``, ``trim``,
``toString``, ``int``, ``toYaml``/``toJson`` and ``default "x"``, and ``<<-``/``->>`` trimming.
Anything else (``if``, ``range``, ...), and inputs that only exist in the cluster
(``inputsFrom``), make the ResourceSet "not expanded", with the reason.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from fluxfleet import yamlio
from fluxfleet.errors import FleetError

GROUP = "fluxcd.controlplane.io"
OWNER_NAME = "resourceset.fluxcd.controlplane.io/name"
OWNER_NAMESPACE = "resourceset.fluxcd.controlplane.io/namespace"
_ACTION = re.compile(r"(\s*)<<(-?)\s*(.*?)\s*(-?)>>(\s*)", re.DOTALL)


class ExpandError(Exception):
    pass


class InvalidResourceSet(ExpandError):
    """The spec is of a shape the API server refuses: an error, not just "unknowable offline"."""


def is_resourceset(body: dict[str, Any]) -> bool:
    return body.get("kind") == "ResourceSet" and str(body.get("apiVersion") or "").startswith(GROUP + "/")


def _go_string(value: Any) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_string(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_string(v) for v in value) + "]"
    return str(value)


def _lookup(path: str, inputs: dict[str, Any]) -> Any:
    parts = path.lstrip(".").split(".")
    if parts[0] != "inputs":
        raise ExpandError(f"template references {path!r}; only inputs.* is supported offline")
    node: Any = inputs
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            raise ExpandError(f"template references {path!r}, which the inputs do not define")
        node = node[part]
    return node


def _apply(func: list[str], value: Any) -> Any:
    name, args = func[0], func[1:]
    if name == "quote":
        return json.dumps("" if value is None else _go_string(value))
    if name == "squote":
        return "'" + ("" if value is None else _go_string(value)) + "'"
    if name == "lower":
        return _go_string(value).lower()
    if name == "upper":
        return _go_string(value).upper()
    if name == "trim":
        return _go_string(value).strip()
    if name == "toString":
        return _go_string(value)
    if name == "int":
        try:
            return int(str(value))
        except ValueError:
            return 0
    if name in ("toYaml", "toJson"):
        return (
            yamlio.dump(value).rstrip("\n") if name == "toYaml" else json.dumps(value, separators=(",", ":"))
        )
    if name == "default" and len(args) == 1:
        return value if value not in (None, "", 0, False, [], {}) else args[0]
    raise ExpandError(f"template function {name!r} is not supported offline")


def _evaluate(action: str, inputs: dict[str, Any]) -> str:
    stages = [s.strip() for s in action.split("|")]
    first = stages[0]
    if not first.startswith(("inputs.", ".inputs.")) or " " in first:
        word = first.split()[0] if first.split() else first
        raise ExpandError(f"template action {word!r} is not supported offline")
    value = _lookup(first, inputs)
    for stage in stages[1:]:
        try:
            words = shlex.split(stage)
        except ValueError as exc:
            raise ExpandError(f"template pipe {stage!r}: {exc}") from None
        if not words:
            raise ExpandError("empty template pipe")
        value = _apply(words, value)
    return _go_string(value)


def render_text(text: str, inputs: dict[str, Any]) -> str:
    def replace(match: re.Match[str]) -> str:
        lead, trim_left, action, trim_right, tail = match.groups()
        return ("" if trim_left else lead) + _evaluate(action, inputs) + ("" if trim_right else tail)

    return _ACTION.sub(replace, text)


def _render_node(node: Any, inputs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        return {_render_node(k, inputs): _render_node(v, inputs) for k, v in node.items()}
    if isinstance(node, list):
        return [_render_node(v, inputs) for v in node]
    if isinstance(node, str) and "<<" in node:
        text = render_text(node, inputs)
        try:
            docs = yamlio.load_all(text, "<resourceset>")
        except FleetError:
            return text
        return docs[0] if len(docs) == 1 else text
    return node


def expand(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects a ResourceSet generates; raises :class:`ExpandError` when that is not knowable."""
    spec = body.get("spec") or {}
    if not isinstance(spec, dict):
        raise InvalidResourceSet("invalid ResourceSet: spec must be a mapping")
    inputs = spec.get("inputs")
    for key in ("inputs", "inputsFrom", "resources"):
        if spec.get(key) is not None and not isinstance(spec.get(key), list):
            raise InvalidResourceSet(f"invalid ResourceSet: spec.{key} must be a list")
    if spec.get("inputsFrom") and not inputs:
        raise ExpandError("its inputs come from spec.inputsFrom, which only the cluster knows")
    input_sets: list[dict[str, Any]] = [i for i in (inputs or [{}]) if isinstance(i, dict)]
    out: list[dict[str, Any]] = []
    for values in input_sets:
        for resource in spec.get("resources") or []:
            rendered = _render_node(resource, {"inputs": values}) if isinstance(resource, dict) else None
            if isinstance(rendered, dict):
                out.append(rendered)
        template = spec.get("resourcesTemplate")
        if isinstance(template, str) and template.strip():
            try:
                docs = yamlio.load_all(render_text(template, {"inputs": values}), "<resourcesTemplate>")
            except FleetError as exc:
                raise ExpandError(
                    f"resourcesTemplate does not parse after expansion: {exc.message}"
                ) from None
            out.extend(d for d in docs if isinstance(d, dict))
    return out
