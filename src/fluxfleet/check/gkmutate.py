"""Gatekeeper mutation (``mutations.gatekeeper.sh``: Assign, AssignMetadata, ModifySet) offline.

Mutators run before validation, as in admission. Order (pkg/mutation/ordered_ids.go): by kind
(Assign < AssignMetadata < ModifySet), then name; the list is re-applied until the object stops
changing, at most N+1 passes (pkg/mutation/system.go). Locations are Gatekeeper paths such as
``spec.containers[name: *].securityContext.privileged``. ``AssignImage`` and ``externalData``
are reported, not applied.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from fluxfleet.check import gkmatch
from fluxfleet.check.gkmatch import mp, seq

MUTATION_GROUP = "mutations.gatekeeper.sh"
_ORDER = {"Assign": 0, "AssignImage": 1, "AssignMetadata": 2, "ModifySet": 3}
_SEGMENT = re.compile(
    r'\s*(?:"((?:[^"\\]|\\.)*)"|([^.\[\]"\s]+))\s*(?:\[\s*([^:\]\s]+)\s*:\s*(?:"((?:[^"\\]|\\.)*)"|([^\]\s]*))\s*\])?\s*'
)
_MISSING = object()


class MutationError(Exception):
    """A mutator that cannot be applied (bad location, unsupported kind, no convergence)."""


@dataclass(frozen=True)
class Segment:
    field: str
    list_key: str | None = None  # `[name: value]`: the list lives under `field`
    list_value: str | None = None  # "*" matches every element


def parse_location(location: str) -> list[Segment]:
    out: list[Segment] = []
    pos = 0
    text = location.strip()
    while pos < len(text):
        m = _SEGMENT.match(text, pos)
        if not m or m.end() == pos:
            raise MutationError(f"location {location!r}: cannot parse near {text[pos:]!r}")
        field = m.group(1) if m.group(1) is not None else m.group(2)
        value = m.group(4) if m.group(4) is not None else m.group(5)
        out.append(Segment(field, m.group(3), value))
        pos = m.end()
        if pos < len(text):
            if text[pos] != ".":
                raise MutationError(f"location {location!r}: expected '.' at {text[pos:]!r}")
            pos += 1
    if not out:
        raise MutationError("location is empty")
    return out


@dataclass(frozen=True)
class Mutator:
    kind: str
    name: str
    body: dict[str, Any]
    path: tuple[Segment, ...]

    @property
    def sort_key(self) -> tuple[int, str]:
        return _ORDER.get(self.kind, 9), self.name


def parse_mutator(body: dict[str, Any]) -> Mutator:
    kind = str(body.get("kind") or "")
    name = str(mp(body.get("metadata")).get("name") or "")
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    if kind not in ("Assign", "AssignMetadata", "ModifySet"):
        raise MutationError(f"{kind}/{name}: {kind} mutators are not applied offline")
    location = spec.get("location")
    if not isinstance(location, str):
        raise MutationError(f"{kind}/{name}: spec.location is missing")
    path = parse_location(location)
    params = spec.get("parameters") if isinstance(spec.get("parameters"), dict) else {}
    assert isinstance(params, dict)
    assign = params.get("assign") if isinstance(params.get("assign"), dict) else {}
    assert isinstance(assign, dict)
    if kind == "AssignMetadata":
        if len(path) != 3 or path[0].field != "metadata" or path[1].field not in ("labels", "annotations"):
            raise MutationError(
                f"{kind}/{name}: location must be metadata.labels.<key> or metadata.annotations.<key>"
            )
    elif path[0].field == "metadata":
        raise MutationError(f"{kind}/{name}: location must not be under metadata (use AssignMetadata)")
    if "externalData" in assign:
        raise MutationError(f"{kind}/{name}: externalData needs a provider, which is not reachable offline")
    return Mutator(kind, name, body, tuple(path))


def _applies(m: Mutator, obj: dict[str, Any], operation: str) -> bool:
    if m.kind == "AssignMetadata":
        return True
    api = str(obj.get("apiVersion") or "")
    group, _, version = api.rpartition("/")
    for entry in seq(mp(m.body.get("spec")).get("applyTo")):
        if not isinstance(entry, dict):
            continue
        ops = seq(entry.get("operations")) or ["*"]
        if (
            group in (seq(entry.get("groups")))
            and str(obj.get("kind")) in (seq(entry.get("kinds")))
            and version in (seq(entry.get("versions")))
            and ("*" in ops or operation in ops)
        ):
            return True
    return False


def _value(m: Mutator, obj: dict[str, Any]) -> Any:
    assign = mp(mp(mp(m.body.get("spec")).get("parameters")).get("assign"))
    source = assign.get("fromMetadata")
    if isinstance(source, dict):
        meta = obj.get("metadata") or {}
        return meta.get(source.get("field")) if source.get("field") in ("namespace", "name") else None
    return copy.deepcopy(assign.get("value"))


def _tests(m: Mutator) -> dict[int, str]:
    """Depth (segments consumed) -> MustExist | MustNotExist, from ``pathTests``."""
    out: dict[int, str] = {}
    for t in seq(mp(mp(m.body.get("spec")).get("parameters")).get("pathTests")):
        if isinstance(t, dict) and isinstance(t.get("subPath"), str):
            out[len(parse_location(t["subPath"]))] = str(t.get("condition") or "")
    return out


def _glob_match(pattern: str, value: Any) -> bool:
    return pattern == "*" or str(value) == pattern


def _walk(
    node: Any, path: tuple[Segment, ...], depth: int, m: Mutator, value: Any, tests: dict[int, str]
) -> bool:
    """Apply the mutator below ``node`` (a dict); True when something changed."""
    seg = path[depth]
    last = depth == len(path) - 1
    if seg.list_key is None:
        existing = node.get(seg.field, _MISSING) if isinstance(node, dict) else _MISSING
        cond = tests.get(depth + 1)
        if (cond == "MustExist" and existing is _MISSING) or (
            cond == "MustNotExist" and existing is not _MISSING
        ):
            return False
        if last:
            return _set_leaf(node, seg.field, existing, m, value)
        if existing is _MISSING or existing is None:
            node[seg.field] = existing = {}
        return isinstance(existing, dict) and _walk(existing, path, depth + 1, m, value, tests)
    items = node.get(seg.field)
    if items is None:
        cond = tests.get(depth + 1)
        if seg.list_value == "*" or cond == "MustExist":
            return False
        node[seg.field] = items = []
    if not isinstance(items, list):
        return False
    changed = False
    hits = [i for i in items if isinstance(i, dict) and _glob_match(str(seg.list_value), i.get(seg.list_key))]
    if not hits and seg.list_value != "*":
        if tests.get(depth + 1) == "MustExist":
            return False
        fresh: dict[str, Any] = {str(seg.list_key): seg.list_value}
        items.append(fresh)
        hits, changed = [fresh], True
    for item in hits:
        if last:
            changed |= _replace_item(items, item, m, value)
        else:
            changed |= _walk(item, path, depth + 1, m, value, tests)
    return changed


def _replace_item(items: list[Any], item: dict[str, Any], m: Mutator, value: Any) -> bool:
    if m.kind != "Assign" or item == value:
        return False
    items[items.index(item)] = value
    return True


def _set_leaf(node: dict[str, Any], field: str, existing: Any, m: Mutator, value: Any) -> bool:
    if m.kind == "AssignMetadata":
        if existing is not _MISSING:
            return False
        node[field] = value
        return True
    if m.kind == "Assign":
        if existing is not _MISSING and existing == value:
            return False
        node[field] = value
        return True
    params = mp(mp(m.body.get("spec")).get("parameters"))
    values = list(seq(mp(params.get("values")).get("fromList")))
    current = list(existing) if isinstance(existing, list) else []
    if params.get("operation", "merge") == "prune":
        kept = [v for v in current if v not in values]
    else:
        kept = current + [v for v in values if v not in current]
    if existing is not _MISSING and kept == existing:
        return False
    if existing is _MISSING and not kept:
        return False
    node[field] = kept
    return True


def mutate(
    mutators: list[Mutator],
    obj: dict[str, Any],
    lookup: gkmatch.NamespaceLookup,
    *,
    operation: str = "CREATE",
) -> dict[str, Any]:
    """The object after every matching mutator, applied until it stops changing."""
    out = copy.deepcopy(obj)
    namespace = str(mp(out.get("metadata")).get("namespace") or "")
    for _ in range(len(mutators) + 1):
        changed = False
        for m in mutators:
            if not _applies(m, out, operation):
                continue
            try:
                if not gkmatch.matches(mp(m.body.get("spec")).get("match"), out, None, namespace, lookup):
                    continue
            except gkmatch.MatchError:
                continue
            value = _value(m, out)
            changed |= _walk(out, m.path, 0, m, value, _tests(m))
        if not changed:
            return out
    raise MutationError(f"mutators did not converge after {len(mutators) + 1} passes")
