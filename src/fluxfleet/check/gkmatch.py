"""Gatekeeper's ``spec.match`` (constraints and mutators) and ``Config`` namespace exclusions.

Semantics from gatekeeper pkg/mutation/match/match.go and pkg/wildcard: every criterion must
hold, an absent one matches everything; the object or the old object matching is enough.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NamespaceLookup = Callable[[str], dict[str, Any] | None]


def seq(value: Any) -> list[Any]:
    """A list from user YAML, or [] when it holds something else (hostile input never crashes)."""
    return value if isinstance(value, list) else []


def mp(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class MatchError(Exception):
    """Matching could not be decided (a namespaceSelector on an object whose Namespace is unknown).
    Gatekeeper turns this into a result (autoreject)."""


def glob(pattern: str, value: str) -> bool:
    """Gatekeeper's wildcard: ``x*`` prefix, ``*x`` suffix, ``*x*`` contains, else exact."""
    if len(pattern) > 1 and pattern.startswith("*") and pattern.endswith("*"):
        return pattern[1:-1] in value
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return value == pattern


def labels_match(selector: Any, labels: dict[str, Any]) -> bool:
    """A Kubernetes LabelSelector (``matchLabels`` + ``matchExpressions``) against labels."""
    if not isinstance(selector, dict):
        return True
    labels = mp(labels)
    for k, v in mp(selector.get("matchLabels")).items():
        if labels.get(k) != v:
            return False
    for expr in seq(selector.get("matchExpressions")):
        if not isinstance(expr, dict):
            continue
        key, op, values = str(expr.get("key")), expr.get("operator"), seq(expr.get("values"))
        if op == "In" and (key not in labels or labels.get(key) not in values):
            return False
        if op == "NotIn" and key in labels and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _gvk(obj: dict[str, Any]) -> tuple[str, str]:
    api = str(obj.get("apiVersion") or "")
    group = api.rsplit("/", 1)[0] if "/" in api else ""
    return group, str(obj.get("kind") or "")


def _is_namespace(obj: dict[str, Any]) -> bool:
    return _gvk(obj) == ("", "Namespace")


def _one(match: dict[str, Any], obj: dict[str, Any], namespace: str, lookup: NamespaceLookup) -> bool:
    group, kind = _gvk(obj)
    kinds = match.get("kinds")
    if isinstance(kinds, list) and kinds:
        ok = False
        for entry in kinds:
            entry = entry if isinstance(entry, dict) else {}
            groups = seq(entry.get("apiGroups"))
            ks = seq(entry.get("kinds"))
            if (not groups or "*" in groups or group in groups) and (not ks or "*" in ks or kind in ks):
                ok = True
                break
        if not ok:
            return False
    is_ns = _is_namespace(obj)
    scope = match.get("scope") or "*"
    if scope == "Cluster" and not (is_ns or not namespace):
        return False
    if scope == "Namespaced" and (is_ns or not namespace):
        return False
    own = _meta(obj).get("name") or "" if is_ns else namespace
    own = str(own)
    if own or is_ns:
        included = seq(match.get("namespaces"))
        if included and not any(glob(str(p), own) for p in included):
            return False
        if any(glob(str(p), own) for p in seq(match.get("excludedNamespaces"))):
            return False
    name_pattern = match.get("name")
    if name_pattern:
        meta = _meta(obj)
        pattern = str(name_pattern)
        ok = glob(pattern, str(meta.get("name") or ""))
        if not ok and pattern.endswith("*") and meta.get("generateName"):
            ok = glob(pattern, str(meta["generateName"]))
        if not ok:
            return False
    if "labelSelector" in match and not labels_match(match["labelSelector"], mp(_meta(obj).get("labels"))):
        return False
    if "namespaceSelector" in match:
        if is_ns:
            ns_labels = mp(_meta(obj).get("labels"))
        elif not namespace:
            return True
        else:
            ns_obj = lookup(namespace)
            if ns_obj is None:
                raise MatchError(
                    f"namespace {namespace!r} is unknown, so namespaceSelector cannot be evaluated"
                )
            ns_labels = mp(_meta(ns_obj).get("labels"))
        if not labels_match(match["namespaceSelector"], ns_labels):
            return False
    return True


def matches(
    match: Any,
    obj: dict[str, Any] | None,
    old: dict[str, Any] | None,
    namespace: str,
    lookup: NamespaceLookup,
) -> bool:
    """Whether a constraint's ``spec.match`` selects the request (object or old object)."""
    match = match if isinstance(match, dict) else {}
    error: MatchError | None = None
    for candidate in (obj, old):
        if not isinstance(candidate, dict):
            continue
        try:
            if _one(match, candidate, namespace, lookup):
                return True
        except MatchError as exc:
            error = exc
    if error is not None:
        raise error
    return False


def config_excluded(configs: list[dict[str, Any]], namespace: str, processes: tuple[str, ...]) -> bool:
    """Whether a Gatekeeper ``Config`` (``spec.match[]``) exempts the namespace from a process."""
    if not namespace:
        return False
    for config in configs:
        for entry in seq(mp(config.get("spec")).get("match")):
            if not isinstance(entry, dict):
                continue
            procs = [str(p) for p in seq(entry.get("processes"))]
            if not ("*" in procs or any(p in procs for p in processes)):
                continue
            if any(glob(str(p), namespace) for p in seq(entry.get("excludedNamespaces"))):
                return True
    return False
