"""In-process JSON 6902 patches, for the kustomization ``patches`` shape ``generate`` writes.

``fluxfleet generate`` gives every cluster a ``flux-system`` folder whose kustomization adds
controller flags with inline JSON 6902 patches targeted by kind and name. Starting kustomize for
that folder cost a process per cluster; these patches are applied here instead. Only a narrow shape
is accepted (inline op list; ``add``, ``replace`` or ``remove``; a target of ``kind`` and/or
``name``); :func:`simple_patches` says whether a kustomization's patches have it. Anything else,
and any op that does not apply cleanly, goes to kustomize, which words the error
(``tests/render/test_plain_differential.py`` proves both agree on the fixture repositories and the
example fleet).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fluxfleet import yamlio
from fluxfleet.errors import FleetError

_OPS = frozenset({"add", "replace", "remove"})
_TARGET_KEYS = frozenset({"kind", "name"})


class NotApplicable(Exception):
    """The patch does not apply cleanly: let kustomize build (and word the error)."""


@dataclass(frozen=True)
class Operation:
    op: str
    path: tuple[str, ...]  # JSON pointer tokens, unescaped
    value: Any = None


@dataclass(frozen=True)
class Patch:
    kind: str | None
    name: re.Pattern[str] | None
    operations: tuple[Operation, ...]

    def selects(self, body: dict[str, Any]) -> bool:
        if self.kind is not None and body.get("kind") != self.kind:
            return False
        if self.name is not None:
            meta = body.get("metadata") or {}
            return isinstance(meta, dict) and self.name.fullmatch(str(meta.get("name") or "")) is not None
        return True


def simple_patches(entries: Any) -> list[Patch] | None:
    """The kustomization's ``patches`` as in-process patches, or None when one needs kustomize."""
    if not isinstance(entries, list):
        return None
    out: list[Patch] = []
    for entry in entries:
        patch = _simple(entry)
        if patch is None:
            return None
        out.append(patch)
    return out


def _simple(entry: Any) -> Patch | None:
    if not isinstance(entry, dict) or set(entry) != {"patch", "target"}:
        return None
    target, text = entry["target"], entry["patch"]
    if not isinstance(target, dict) or not target or set(target) - _TARGET_KEYS or not isinstance(text, str):
        return None
    kind, name = target.get("kind"), target.get("name")
    if not all(v is None or (isinstance(v, str) and v) for v in (kind, name)):
        return None
    try:
        # kustomize anchors the name selector; Go's RE2 and Python agree on plain alternations,
        # so anything beyond those goes to kustomize.
        if name is not None and not re.fullmatch(r"[A-Za-z0-9_.|()-]+", name):
            return None
        pattern = re.compile(name) if name is not None else None
        docs = yamlio.load_all(text, "<patch>")
    except (re.error, FleetError):
        return None
    if len(docs) != 1 or not isinstance(docs[0], list) or not docs[0]:
        return None
    operations: list[Operation] = []
    for op in docs[0]:
        if not isinstance(op, dict) or op.get("op") not in _OPS:
            return None
        path = op.get("path")
        wanted = {"op", "path"} | ({"value"} if op["op"] != "remove" else set())
        if set(op) != wanted or not isinstance(path, str) or not path.startswith("/"):
            return None
        tokens = tuple(t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/"))
        operations.append(Operation(op["op"], tokens, op.get("value")))
    return Patch(kind, pattern, tuple(operations))


def apply(body: dict[str, Any], patch: Patch) -> None:
    """Apply every operation to ``body`` in place; raise NotApplicable when one does not apply."""
    for operation in patch.operations:
        _apply(body, operation)


def _apply(doc: Any, operation: Operation) -> None:
    *parents, last = operation.path
    node = doc
    for token in parents:
        node = _child(node, token)
    value = _copy(operation.value)
    if isinstance(node, dict):
        if operation.op != "add" and last not in node:
            raise NotApplicable
        if operation.op == "remove":
            del node[last]
        else:
            node[last] = value
        return
    if not isinstance(node, list):
        raise NotApplicable
    if operation.op == "add" and last == "-":
        node.append(value)
        return
    index = _index(last)
    limit = len(node) + (1 if operation.op == "add" else 0)
    if index >= limit:
        raise NotApplicable
    if operation.op == "add":
        node.insert(index, value)
    elif operation.op == "replace":
        node[index] = value
    else:
        del node[index]


def _child(node: Any, token: str) -> Any:
    if isinstance(node, dict) and token in node:
        return node[token]
    if isinstance(node, list):
        index = _index(token)
        if index < len(node):
            return node[index]
    raise NotApplicable


def _index(token: str) -> int:
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise NotApplicable
    return int(token)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
