"""Renders as data for people and programs: YAML streams, JSON, per-cluster folders, tables, trees.

Pure functions. Secret values are masked in everything produced here.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fluxfleet import yamlio
from fluxfleet.render.images import image_uses
from fluxfleet.render.model import ClusterRender, KustomizationRender
from fluxfleet.render.secrets import masked_for_display


def error_dicts(renders: list[ClusterRender]) -> list[dict[str, Any]]:
    return [e.to_dict() for r in renders for e in r.errors]


def ks_dict(ks: KustomizationRender) -> dict[str, Any]:
    return {
        "kind": ks.kind,
        "name": ks.name,
        "namespace": ks.namespace,
        "status": ks.status.value,
        "path": ks.path,
        "source": ks.source,
        "parent": ks.parent,
        "reason": ks.reason,
        "file": ks.file,
        "line": ks.line,
        "dependsOn": ks.depends_on,
        "objects": len(ks.objects),
        "warnings": list(ks.warnings),
    }


def yaml_stream(renders: list[ClusterRender]) -> str:
    parts: list[str] = []
    for render in renders:
        for ks in render.kustomizations:
            for obj in ks.objects:
                header = f"# cluster: {render.cluster}  {ks.kind.lower()}: {ks.id}"
                if obj.source.file:
                    header += f"  file: {obj.source.file}"
                parts.append(f"---\n{header}\n{yamlio.dump(masked_for_display(obj.body))}")
    return "".join(parts)


def json_doc(renders: list[ClusterRender]) -> dict[str, Any]:
    return {
        "clusters": [
            {
                "cluster": r.cluster,
                "path": r.path,
                "labels": r.labels,
                "kustomizations": [
                    {**ks_dict(ks), "objects": [masked_for_display(o.body) for o in ks.objects]}
                    for ks in r.kustomizations
                ],
            }
            for r in renders
        ],
        "errors": error_dicts(renders),
    }


def folder_plan(renders: list[ClusterRender]) -> dict[str, str]:
    """``<cluster>/<kind>-<namespace>-<name>.yaml`` per Kustomization with objects."""
    plan: dict[str, str] = {}
    for r in renders:
        for ks in r.kustomizations:
            if not ks.objects:
                continue
            name = f"{r.cluster}/{ks.kind.lower()}-{ks.namespace}-{ks.name}.yaml"
            plan[name] = yamlio.dump_all([masked_for_display(o.body) for o in ks.objects])
    return plan


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"


def kustomization_rows(renders: list[ClusterRender]) -> list[dict[str, Any]]:
    return [{"cluster": r.cluster, **ks_dict(ks)} for r in renders for ks in r.kustomizations]


def kustomizations_text(renders: list[ClusterRender]) -> str:
    rows = []
    for r in renders:
        for ks in r.kustomizations:
            detail = ks.reason or (f"{len(ks.objects)} objects")
            if ks.warnings:
                detail += f" (warning: {'; '.join(ks.warnings)})"
            rows.append(
                [r.cluster, f"{ks.namespace}/{ks.name}", ks.status.value, ks.path or "-", ks.source, detail]
            )
    return table(["CLUSTER", "KUSTOMIZATION", "STATUS", "PATH", "SOURCE", "DETAIL"], rows)


def helmrelease_rows(renders: list[ClusterRender]) -> list[dict[str, Any]]:
    return [
        {
            "cluster": r.cluster,
            "name": h.name,
            "namespace": h.namespace,
            "chart": h.chart,
            "version": h.version,
            "source": h.source,
            "values": list(h.values),
            "kustomization": h.kustomization,
            "rendered": h.rendered,
            "reason": h.reason,
        }
        for r in renders
        for h in r.helmreleases
    ]


def helmreleases_text(renders: list[ClusterRender]) -> str:
    rows = [
        [
            d["cluster"],
            f"{d['namespace']}/{d['name']}",
            d["chart"],
            d["version"] or "-",
            d["source"],
            ", ".join(d["values"]) or "-",
            "yes" if d["rendered"] else d["reason"],
        ]
        for d in helmrelease_rows(renders)
    ]
    return table(["CLUSTER", "HELMRELEASE", "CHART", "VERSION", "SOURCE", "VALUES", "RENDERED"], rows)


def image_matrix(renders: list[ClusterRender]) -> dict[str, dict[str, list[str]]]:
    """image -> cluster -> sorted tags (charts of HelmReleases appear as ``chart:<name>``)."""
    matrix: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for r in renders:
        for use in image_uses(r):
            matrix[use.image][r.cluster].add(use.tag or "latest")
        for h in r.helmreleases:
            matrix[f"chart:{h.chart}"][r.cluster].add(h.version or "-")
    return {img: {c: sorted(t) for c, t in sorted(by.items())} for img, by in sorted(matrix.items())}


MATRIX_WIDTH = 160  # widest image x cluster table printed; wider fleets get one row per tag
WHERE_WIDTH = 80  # the cluster list of a tag row wraps at this width


def images_text(renders: list[ClusterRender]) -> str:
    """Which tag runs on which cluster, every cluster named.

    An image x cluster matrix when it fits in :data:`MATRIX_WIDTH` columns, else one row per image
    and tag listing all its clusters (wrapped onto continuation lines).
    """
    matrix = image_matrix(renders)
    clusters = [r.cluster for r in renders]
    rows = [[img, *(", ".join(by.get(c, [])) or "-" for c in clusters)] for img, by in matrix.items()]
    wide = table(["IMAGE", *clusters], rows)
    if max(len(line) for line in wide.splitlines()) <= MATRIX_WIDTH:
        return wide
    tag_rows: list[list[str]] = []
    for img, by in matrix.items():
        per_tag: dict[str, list[str]] = defaultdict(list)
        for cluster, tags in by.items():
            for tag in tags:
                per_tag[tag].append(cluster)
        for tag, names in sorted(per_tag.items()):
            lines = _wrap(names, WHERE_WIDTH)
            tag_rows.append([img, tag, str(len(names)), lines[0]])
            tag_rows.extend(["", "", "", more] for more in lines[1:])
    return table(["IMAGE", "TAG", "CLUSTERS", "WHERE"], tag_rows)


def _wrap(names: list[str], width: int) -> list[str]:
    """``a, b, c`` split into lines of at most ``width`` characters (a longer name gets its own line)."""
    lines: list[str] = []
    current = ""
    for name in names:
        candidate = f"{current}, {name}" if current else name
        if current and len(candidate) + 1 > width:
            lines.append(current + ",")
            current = name
        else:
            current = candidate
    lines.append(current)
    return lines


def tree_text(render: ClusterRender, *, objects: bool = False) -> str:
    children: dict[str | None, list[KustomizationRender]] = defaultdict(list)
    for ks in render.kustomizations:
        children[ks.parent].append(ks)
    lines = [f"cluster {render.cluster} ({render.path or '.'})"]

    def label(ks: KustomizationRender) -> str:
        text = f"{ks.kind}/{ks.namespace}/{ks.name}"
        extras = []
        if ks.status.value != "rendered":
            extras.append(f"{ks.status.value}: {ks.reason}" if ks.reason else ks.status.value)
        if ks.depends_on:
            extras.append("dependsOn: " + ", ".join(ks.depends_on))
        return text + (f"  [{'; '.join(extras)}]" if extras else "")

    def visit(ks: KustomizationRender, prefix: str, last: bool) -> None:
        lines.append(f"{prefix}{'└── ' if last else '├── '}{label(ks)}")
        inner = prefix + ("    " if last else "│   ")
        kids = [k for k in children.get(ks.id, []) if k is not ks]
        entries: list[tuple[str, KustomizationRender | None]] = [("", k) for k in kids]
        if objects:
            kid_ids = {(k.kind, k.namespace, k.name) for k in kids}
            entries = [
                (str(o.key), None)
                for o in ks.objects
                if (o.key.kind, o.key.namespace, o.key.name) not in kid_ids
            ] + entries
        for i, (text, child) in enumerate(entries):
            is_last = i == len(entries) - 1
            if child is None:
                lines.append(f"{inner}{'└── ' if is_last else '├── '}{text}")
            else:
                visit(child, inner, is_last)

    roots = children.get(None, [])
    for i, root in enumerate(roots):
        visit(root, "", i == len(roots) - 1)
    return "\n".join(lines) + "\n"
