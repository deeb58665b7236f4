"""A diff result as text, JSON-ready data, or Markdown sized for a pull-request comment."""

from __future__ import annotations

from typing import Any

from fluxfleet.diff.compare import DiffResult, summary
from fluxfleet.render.model import RenderError

MARKDOWN_LIMIT = 60_000  # GitHub rejects comments over 65,536 characters


def as_data(result: DiffResult, errors: list[RenderError]) -> dict[str, Any]:
    return {
        "base": result.base,
        "head": result.head,
        "changed": result.changed,
        "summary": summary(result),
        "clusters": [
            {
                "cluster": c.cluster,
                "labels": c.labels,
                "status": c.status,
                "created": c.count("created"),
                "changed": c.count("changed"),
                "deleted": c.count("deleted"),
                "changes": [
                    {
                        "action": ch.action,
                        "object": ch.object,
                        "apiVersion": ch.api_version,
                        "kustomization": ch.kustomization,
                        "diff": ch.diff,
                        "note": ch.note,
                    }
                    for ch in c.changes
                ],
            }
            for c in result.clusters
            if c.changes
        ],
        "errors": [e.to_dict() for e in errors],
    }


def _counts(c: Any) -> str:
    return f"+{c.count('created')} ~{c.count('changed')} -{c.count('deleted')}"


def as_text(result: DiffResult, *, full: bool = True) -> str:
    lines = [f"diff {result.base} -> {result.head}"]
    changed = [c for c in result.clusters if c.changes]
    if not changed:
        lines.append("no changes")
        return "\n".join(lines) + "\n"
    for cluster in changed:
        tag = "" if cluster.status == "changed" else f" ({cluster.status})"
        lines.append(f"\ncluster {cluster.cluster}{tag}: {_counts(cluster)}")
        for ch in cluster.changes:
            mark = {"created": "+", "changed": "~", "deleted": "-"}[ch.action]
            note = f"  ({ch.note})" if ch.note else ""
            lines.append(f"  {mark} {ch.object}  [{ch.kustomization or '-'}]{note}")
            if full and ch.action == "changed":
                lines.extend("      " + line for line in ch.diff.rstrip("\n").splitlines())
    lines.append("")
    lines.extend(_summary_lines(result))
    return "\n".join(lines) + "\n"


def _summary_lines(result: DiffResult) -> list[str]:
    changed = [c for c in result.clusters if c.changes]
    out = [f"{len(changed)} of {len(result.clusters)} clusters change"]
    for key, groups in summary(result).items():
        parts = [
            f"{value} ({len(names)}: {', '.join(names[:5])}{' …' if len(names) > 5 else ''})"
            for value, names in sorted(groups.items())
        ]
        out.append(f"  by {key}: " + "; ".join(parts))
    return out


def as_markdown(result: DiffResult, errors: list[RenderError], limit: int = MARKDOWN_LIMIT) -> str:
    changed = [c for c in result.clusters if c.changes]
    head = [f"### fluxfleet diff `{result.base}` → `{result.head}`", ""]
    if not changed:
        head.append("No changes to any cluster.")
    else:
        head.append(f"**{len(changed)} of {len(result.clusters)} clusters change.**")
        head.append("")
        for key, groups in summary(result).items():
            head.append(f"- by {key}: " + "; ".join(f"`{v}` ({len(n)})" for v, n in sorted(groups.items())))
        head.append("")
        head.append("| cluster | created | changed | deleted |")
        head.append("|---|---:|---:|---:|")
        for c in changed:
            head.append(
                f"| {c.cluster} | {c.count('created')} | {c.count('changed')} | {c.count('deleted')} |"
            )
    if errors:
        head.append("")
        head.append(f"**{len(errors)} render errors:**")
        head.extend(f"- `{e}`" for e in errors[:20])
    text = "\n".join(head) + "\n"
    omitted = 0
    for cluster in changed:
        block = [f"\n<details><summary>{cluster.cluster}: {_counts(cluster)}</summary>\n"]
        for ch in cluster.changes:
            note = f" — {ch.note}" if ch.note else ""
            block.append(f"- **{ch.action}** `{ch.object}` ({ch.kustomization or '-'}){note}")
            if ch.action == "changed":
                block.append("\n```diff\n" + ch.diff.rstrip("\n") + "\n```\n")
        block.append("</details>\n")
        chunk = "\n".join(block)
        if len(text) + len(chunk) + 200 > limit:
            omitted += 1
            continue
        text += chunk
    if omitted:
        text += f"\n_Details of {omitted} clusters omitted to stay under {limit} characters; run `fluxfleet diff` locally._\n"
    return text
