"""Every place a kustomization names a path: the one table that drives collection and confinement.

kustomize reads a file wherever one of these fields names it, so the planner collects exactly these
(nothing else is a path) and refuses any that is absolute or climbs out of the source root, as
Flux's secure file system does (fluxcd/pkg ``kustomize/filesys``: every path must be in or below
the source root). Builtin generator and transformer plugins configured from a file or inline in
``generators``/``transformers``/``validators`` name paths too; :data:`PLUGIN_FIELDS` lists theirs.

A field pattern is a dotted path where ``*`` is every item of a list.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Kind(Enum):
    RESOURCE = "resource"  # a file, a kustomization directory, or a remote base
    FILE = "file"  # a file kustomize reads (a directory is taken whole)
    KV_FILE = "kv-file"  # generator ``files``: ``path`` or ``key=path``
    DATA_FILE = "data-file"  # generator ``envs``/``env``: read as lines, not YAML
    INLINE_OR_FILE = "inline-or-file"  # patchesStrategicMerge: a path or an inline patch
    PLUGIN = "plugin"  # generators/transformers/validators: a config file, a directory, or inline YAML
    DIR = "dir"  # helm's chart or config home


# kustomize api/types.Kustomization (v5): (field pattern, kind). The one list of path fields.
PATH_FIELDS: tuple[tuple[str, Kind], ...] = (
    ("resources.*", Kind.RESOURCE),
    ("bases.*", Kind.RESOURCE),
    ("components.*", Kind.RESOURCE),
    ("crds.*", Kind.FILE),
    ("configurations.*", Kind.FILE),
    ("openapi.path", Kind.FILE),
    ("patches.*.path", Kind.FILE),
    ("patchesJson6902.*.path", Kind.FILE),
    ("patchesStrategicMerge.*", Kind.INLINE_OR_FILE),
    ("replacements.*.path", Kind.FILE),
    ("configMapGenerator.*.files.*", Kind.KV_FILE),
    ("configMapGenerator.*.envs.*", Kind.DATA_FILE),
    ("configMapGenerator.*.env", Kind.DATA_FILE),
    ("secretGenerator.*.files.*", Kind.KV_FILE),
    ("secretGenerator.*.envs.*", Kind.DATA_FILE),
    ("secretGenerator.*.env", Kind.DATA_FILE),
    ("helmGlobals.chartHome", Kind.DIR),
    ("helmGlobals.configHome", Kind.DIR),
    ("helmCharts.*.valuesFile", Kind.FILE),
    ("helmCharts.*.additionalValuesFiles.*", Kind.FILE),
    ("helmChartInflationGenerator.*.chartHome", Kind.DIR),
    ("helmChartInflationGenerator.*.helmHome", Kind.DIR),
    ("helmChartInflationGenerator.*.values", Kind.FILE),
    ("generators.*", Kind.PLUGIN),
    ("transformers.*", Kind.PLUGIN),
    ("validators.*", Kind.PLUGIN),
)

_GENERATOR = (("files.*", Kind.KV_FILE), ("envs.*", Kind.DATA_FILE), ("env", Kind.DATA_FILE))

# Builtin plugins (kustomize api/builtins) by kind: the fields of their config that name paths,
# resolved against the kustomization that lists the plugin.
PLUGIN_FIELDS: dict[str, tuple[tuple[str, Kind], ...]] = {
    "ConfigMapGenerator": _GENERATOR,
    "SecretGenerator": _GENERATOR,
    "PatchTransformer": (("path", Kind.FILE),),
    "PatchJson6902Transformer": (("path", Kind.FILE),),
    "PatchStrategicMergeTransformer": (("paths.*", Kind.INLINE_OR_FILE),),
    "ReplacementTransformer": (("replacements.*.path", Kind.FILE),),
    "HelmChartInflationGenerator": (
        ("chartHome", Kind.DIR),
        ("helmHome", Kind.DIR),
        ("values", Kind.FILE),
        ("valuesFile", Kind.FILE),
        ("additionalValuesFiles.*", Kind.FILE),
    ),
}


@dataclass(frozen=True)
class PathRef:
    field: tuple[str | int, ...]  # where the value sits in its document, for the error's line
    value: str  # the path as written (for ``key=path``, the path part)
    kind: Kind

    @property
    def field_name(self) -> str:
        out = ""
        for part in self.field:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out


def is_inline(value: str) -> bool:
    """An inline YAML document rather than a path (patchesStrategicMerge, plugin lists)."""
    return "\n" in value or value.lstrip().startswith(("{", "["))


def _walk(
    node: Any, parts: list[str], at: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    if not parts:
        yield at, node
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        if isinstance(node, list):
            for i, item in enumerate(node):
                yield from _walk(item, rest, (*at, i))
    elif isinstance(node, Mapping) and head in node:
        yield from _walk(node[head], rest, (*at, head))


def _refs(doc: Mapping[str, Any], table: tuple[tuple[str, Kind], ...]) -> Iterator[PathRef]:
    for pattern, kind in table:
        for at, value in _walk(doc, pattern.split("."), ()):
            if not isinstance(value, str) or not value.strip():
                continue  # not a path; kustomize itself rejects a wrongly typed field
            if kind is Kind.KV_FILE and "=" in value:
                value = value.split("=", 1)[1]  # kustomize splits ``key=path`` at the first '='
            yield PathRef(at, value, kind)


def kustomization_refs(kustomization: Mapping[str, Any]) -> list[PathRef]:
    """Every path a kustomization names, in table order."""
    return list(_refs(kustomization, PATH_FIELDS))


def plugin_refs(config: Mapping[str, Any]) -> list[PathRef]:
    """The paths a builtin plugin's configuration names (none for other kinds)."""
    table = PLUGIN_FIELDS.get(str(config.get("kind") or ""))
    return list(_refs(config, table)) if table else []
