"""HelmReleases of a cluster: chart, version and values source, and whether the chart was rendered.

Charts are rendered only with a local ``helm`` binary and a chart available offline; fluxfleet
never fetches charts, so a chart from a HelmRepository or OCIRepository is listed as not rendered,
with the reason.
"""

from __future__ import annotations

from typing import Any

from fluxfleet.proc import find_tool
from fluxfleet.render.model import ClusterRender, HelmReleaseInfo

HELM_GROUP = "helm.toolkit.fluxcd.io"


def _values_sources(spec: dict[str, Any]) -> tuple[str, ...]:
    out: list[str] = []
    for ref in spec.get("valuesFrom") or []:
        if isinstance(ref, dict):
            key = ref.get("valuesKey") or "values.yaml"
            optional = " (optional)" if ref.get("optional") else ""
            out.append(f"{ref.get('kind', 'ConfigMap')}/{ref.get('name', '')}[{key}]{optional}")
    if spec.get("values"):
        out.append("inline")
    return tuple(out)


def info(body: dict[str, Any], kustomization: str | None, helm_available: bool) -> HelmReleaseInfo:
    meta = body.get("metadata") or {}
    raw_spec = body.get("spec")
    spec: dict[str, Any] = raw_spec if isinstance(raw_spec, dict) else {}
    namespace = str(meta.get("namespace") or "")
    chart_ref = spec.get("chartRef")
    chart_field = spec.get("chart")
    template: dict[str, Any] = {}
    if isinstance(chart_field, dict) and isinstance(chart_field.get("spec"), dict):
        template = chart_field["spec"]
    if isinstance(chart_ref, dict):
        chart = f"{chart_ref.get('kind', '')}/{chart_ref.get('name', '')}"
        version = ""
        source = f"{chart_ref.get('kind', '')}/{chart_ref.get('namespace') or namespace}/{chart_ref.get('name', '')}"
    else:
        raw_ref = template.get("sourceRef")
        ref: dict[str, Any] = raw_ref if isinstance(raw_ref, dict) else {}
        chart = str(template.get("chart") or "")
        version = str(template.get("version") or "")
        source = f"{ref.get('kind', '')}/{ref.get('namespace') or namespace}/{ref.get('name', '')}"
    if not helm_available:
        reason = "not rendered: no helm binary found"
    else:
        reason = f"not rendered: the chart comes from {source}, which fluxfleet does not fetch"
    return HelmReleaseInfo(
        name=str(meta.get("name") or ""),
        namespace=namespace,
        chart=chart,
        version=version,
        source=source,
        values=_values_sources(spec),
        kustomization=kustomization,
        rendered=False,
        reason=reason,
    )


def releases(render: ClusterRender) -> list[HelmReleaseInfo]:
    helm_available = find_tool("helm") is not None
    out = []
    for obj in render.objects:
        if obj.key.kind == "HelmRelease" and obj.key.group == HELM_GROUP:
            out.append(info(obj.body, obj.source.kustomization, helm_available))
    return out
