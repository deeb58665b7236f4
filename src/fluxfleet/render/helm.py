"""HelmReleases of a cluster: chart, version and values source, and the chart rendered when it can be.

A chart is rendered with ``helm template`` only when a ``helm`` binary is found and the chart is
local: ``spec.chart.spec`` names a path inside a GitRepository that maps to a folder (the cluster's
own repository, or ``--source`` / fleet.yaml ``spec.sources``), or ``spec.chartRef`` names a HelmChart
of the same render that does; or cached: a HelmRepository chart pinned to one version whose archive
``<chart>-<version>.tgz`` is already in helm's repository cache (``$HELM_REPOSITORY_CACHE``, else
``$XDG_CACHE_HOME/helm/repository``, else ``~/.cache/helm/repository``; ``helm pull`` puts it
there). fluxfleet never fetches charts: any other chart is listed as not rendered, with the reason.

Values follow helm-controller: each ``valuesFrom`` entry in order (``valuesKey`` default
``values.yaml``; ``targetPath`` sets the raw string at a dotted path; ``optional`` skips a missing
object or key) deep-merged over the previous ones, then inline ``spec.values`` over all of them.
The values reach helm only through a 0600 file in a private temporary folder that is removed on
every path; they are never logged, and values read from Secrets are blanked out of helm's messages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fluxfleet import yamlio
from fluxfleet.errors import FleetError
from fluxfleet.objects import BUILTIN_CLUSTER_SCOPED, K8sObject, ObjectKey, Provenance
from fluxfleet.proc import ToolError, find_tool, run
from fluxfleet.render.files import FileTree, norm
from fluxfleet.render.fluxks import SourceRef, Sources
from fluxfleet.render.model import HelmReleaseInfo, KsStatus, KustomizationRender, RenderError

HELM_GROUP = "helm.toolkit.fluxcd.io"
SOURCE_GROUP = "source.toolkit.fluxcd.io"
HELM_TIMEOUT = 120.0
OWNER_NAME = "helm.toolkit.fluxcd.io/name"
OWNER_NAMESPACE = "helm.toolkit.fluxcd.io/namespace"
MASK = "***"


class NotRendered(Exception):
    """The chart cannot be rendered offline; the message says why."""


def _values_sources(spec: dict[str, Any]) -> tuple[str, ...]:
    out: list[str] = []
    refs = spec.get("valuesFrom")
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, dict):
            key = ref.get("valuesKey") or "values.yaml"
            optional = " (optional)" if ref.get("optional") else ""
            out.append(f"{ref.get('kind', 'ConfigMap')}/{ref.get('name', '')}[{key}]{optional}")
    if spec.get("values"):
        out.append("inline")
    return tuple(out)


def spec_problem(spec: Mapping[str, Any]) -> str | None:
    """Why the API server would reject this HelmRelease spec (its OpenAPI types), None when usable."""
    for key in ("chart", "chartRef", "values", "install", "upgrade"):
        value = spec.get(key)
        if value is not None and not isinstance(value, dict):
            return f"spec.{key} must be a mapping"
    chart = spec.get("chart")
    if isinstance(chart, dict) and chart.get("spec") is not None and not isinstance(chart.get("spec"), dict):
        return "spec.chart.spec must be a mapping"
    refs = spec.get("valuesFrom")
    if refs is not None and not (isinstance(refs, list) and all(isinstance(r, dict) for r in refs)):
        return "spec.valuesFrom must be a list of {kind, name} references"
    for key in ("postRenderers", "dependsOn"):
        value = spec.get(key)
        if value is not None and not isinstance(value, list):
            return f"spec.{key} must be a list"
    return None


def _spec(body: Mapping[str, Any]) -> dict[str, Any]:
    raw = body.get("spec")
    return raw if isinstance(raw, dict) else {}


def _ref(raw: Any, namespace: str, default_kind: str = "") -> SourceRef:
    ref: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return SourceRef(
        str(ref.get("kind") or default_kind),
        str(ref.get("namespace") or namespace),
        str(ref.get("name") or ""),
    )


def info(body: dict[str, Any], kustomization: str | None, helm_available: bool) -> HelmReleaseInfo:
    meta = body.get("metadata") or {}
    spec = _spec(body)
    namespace = str(meta.get("namespace") or "")
    chart_ref = spec.get("chartRef")
    chart_field = spec.get("chart")
    template: dict[str, Any] = {}
    if isinstance(chart_field, dict) and isinstance(chart_field.get("spec"), dict):
        template = chart_field["spec"]
    if isinstance(chart_ref, dict):
        chart = f"{chart_ref.get('kind', '')}/{chart_ref.get('name', '')}"
        version = ""
        source = str(_ref(chart_ref, namespace))
    else:
        chart = str(template.get("chart") or "")
        version = str(template.get("version") or "")
        source = str(_ref(template.get("sourceRef"), namespace))
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


# -- values ------------------------------------------------------------------------------------


def merge_maps(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """helm-controller's MergeMaps: nested maps merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_maps(out[key], value)
        else:
            out[key] = value
    return out


_PATH_PART = re.compile(r"(?:\\.|[^.])+")


def set_path(values: dict[str, Any], path: str, value: str) -> dict[str, Any]:
    """``targetPath``: the raw string at a dotted path (``\\.`` escapes a dot in a key)."""
    parts = [p.replace("\\.", ".") for p in _PATH_PART.findall(path)]
    if not parts or any("[" in p or "]" in p for p in parts):
        raise NotRendered(f"targetPath {path!r} uses list indices, which fluxfleet does not support")
    out = dict(values)
    node = out
    for part in parts[:-1]:
        child = node.get(part)
        child = dict(child) if isinstance(child, dict) else {}
        node[part] = child
        node = child
    node[parts[-1]] = value
    return out


@dataclass
class Values:
    merged: dict[str, Any] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)  # strings read from Secrets: never shown


def _secret_strings(node: Any, out: set[str]) -> None:
    if isinstance(node, str):
        if len(node) >= 4:
            out.add(node)
    elif isinstance(node, dict):
        for value in node.values():
            _secret_strings(value, out)
    elif isinstance(node, list):
        for value in node:
            _secret_strings(value, out)


def chart_values(spec: Mapping[str, Any], namespace: str, lookup: Any) -> Values:
    """The values helm-controller would pass; raises :class:`NotRendered` when they are not known."""
    result = Values()
    for ref in spec.get("valuesFrom") or []:
        if not isinstance(ref, dict):
            continue
        kind = str(ref.get("kind") or "")
        name = str(ref.get("name") or "")
        key = str(ref.get("valuesKey") or "values.yaml")
        optional = bool(ref.get("optional"))
        if kind not in ("ConfigMap", "Secret"):
            raise NotRendered(f"valuesFrom kind {kind!r} must be ConfigMap or Secret")
        body = lookup(kind, namespace, name)
        if body is None:
            if optional:
                continue
            raise NotRendered(
                f"valuesFrom {kind}/{name} is not in the render (it may exist only in the cluster)"
            )
        data = body.get("data")
        raw = data.get(key) if isinstance(data, dict) else None
        if raw is None:
            if optional:
                continue
            raise NotRendered(f"valuesFrom {kind}/{name} has no key {key!r}")
        text = str(raw)
        if kind == "Secret":
            try:
                text = base64.b64decode(text, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise NotRendered(f"valuesFrom Secret/{name} key {key!r} is not valid base64") from None
            if text in ("**SOPS**", '{"mask":"**SOPS**"}'):
                raise NotRendered(f"valuesFrom Secret/{name} is SOPS-encrypted; fluxfleet does not decrypt")
        target = ref.get("targetPath")
        if target:
            result.merged = set_path(result.merged, str(target), text)
            if kind == "Secret":
                _secret_strings(text, result.secrets)
            continue
        try:
            docs = yamlio.load_all(text, f"{kind}/{name}[{key}]")
        except FleetError:
            raise NotRendered(f"valuesFrom {kind}/{name} key {key!r} is not valid YAML") from None
        if len(docs) > 1 or (docs and not isinstance(docs[0], dict)):
            raise NotRendered(f"valuesFrom {kind}/{name} key {key!r} is not a YAML mapping")
        found: dict[str, Any] = docs[0] if docs else {}
        if kind == "Secret":
            _secret_strings(found, result.secrets)
        result.merged = merge_maps(result.merged, found)
    inline = spec.get("values")
    if isinstance(inline, dict):
        result.merged = merge_maps(result.merged, inline)
    return result


# -- chart location ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalChart:
    tree: FileTree
    path: str  # root-relative chart folder
    source: SourceRef


@dataclass(frozen=True)
class CachedChart:
    """A chart archive from helm's repository cache."""

    archive: Path
    source: SourceRef

    @property
    def path(self) -> str:
        return self.archive.name


def helm_cache_dir() -> Path:
    """Where helm keeps downloaded chart archives (helm's own defaults, in its order)."""
    if os.environ.get("HELM_REPOSITORY_CACHE"):
        return Path(os.environ["HELM_REPOSITORY_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "helm" / "repository"


_EXACT_VERSION = re.compile(r"^v?[0-9]+(\.[0-9]+){0,2}([-+][0-9A-Za-z.-]+)?$")


def _cached(chart_spec: Mapping[str, Any], source: SourceRef) -> CachedChart:
    name, version = str(chart_spec.get("chart") or ""), str(chart_spec.get("version") or "")
    if not name or "/" in name or not _EXACT_VERSION.match(version):
        raise NotRendered(
            f"the chart comes from {source} without one exact version, which fluxfleet does not fetch"
        )
    archive = helm_cache_dir() / f"{name}-{version}.tgz"
    if not archive.is_file():
        raise NotRendered(
            f"chart {name} {version} from {source} is not in helm's cache ({archive.parent}); "
            f"`helm pull` it there to render it"
        )
    return CachedChart(archive, source)


def _chart_in(tree: FileTree, chart: str, source: SourceRef) -> LocalChart:
    path = norm(chart)
    if path is None:
        raise NotRendered(f"chart path {chart!r} escapes the source root")
    if not tree.is_file(f"{path}/Chart.yaml" if path else "Chart.yaml"):
        raise NotRendered(f"chart path {chart!r} in {source} holds no Chart.yaml")
    return LocalChart(tree, path, source)


def locate(
    body: Mapping[str, Any], sources: Sources, helm_charts: Mapping[SourceRef, dict[str, Any]]
) -> LocalChart | CachedChart:
    """The local or cached chart of a HelmRelease; raises :class:`NotRendered` with the reason otherwise."""
    meta = body.get("metadata") or {}
    namespace = str(meta.get("namespace") or "")
    spec = _spec(body)
    chart_ref = spec.get("chartRef")
    if isinstance(chart_ref, dict):
        ref = _ref(chart_ref, namespace)
        if ref.kind != "HelmChart":
            raise NotRendered(f"the chart comes from {ref}, which fluxfleet does not fetch")
        chart_body = helm_charts.get(ref)
        if chart_body is None:
            raise NotRendered(f"chartRef {ref} is not in the render")
        chart_spec = _spec(chart_body)
        ns = ref.namespace
    else:
        chart_field = spec.get("chart")
        raw = chart_field.get("spec") if isinstance(chart_field, dict) else None
        if not isinstance(raw, dict):
            raise NotRendered("spec.chart.spec is missing")
        chart_spec, ns = raw, namespace
    source = _ref(chart_spec.get("sourceRef"), ns)
    if source.kind == "HelmRepository":
        return _cached(chart_spec, source)
    if source.kind != "GitRepository":
        raise NotRendered(f"the chart comes from {source}, which fluxfleet does not fetch")
    tree = sources.tree_for(source)
    if tree is None:
        raise NotRendered(
            f"the chart comes from {source}, which is not mapped to a folder "
            f"(map it with --source {source.name}=PATH or fleet.yaml spec.sources)"
        )
    return _chart_in(tree, str(chart_spec.get("chart") or ""), source)


# -- helm template -----------------------------------------------------------------------------


def release_name(body: Mapping[str, Any]) -> str:
    """helm-controller's default: ``<targetNamespace>-<name>`` with a target namespace, else the name."""
    meta = body.get("metadata") or {}
    spec = _spec(body)
    if spec.get("releaseName"):
        return str(spec["releaseName"])
    name = str(meta.get("name") or "")
    target = spec.get("targetNamespace")
    full = f"{target}-{name}" if target else name
    if len(full) > 53:  # Helm's limit; the controller shortens with a digest the same way
        digest = hashlib.sha256(full.encode()).hexdigest()[:12]
        full = f"{full[:40]}-{digest}"
    return full


def _redact(message: str, values: Values, scratch: str) -> str:
    text = message.replace(scratch + os.sep, "").replace(scratch, ".")
    for secret in sorted(values.secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def template(
    helm: str, chart: LocalChart | CachedChart, name: str, namespace: str, values: Values, include_crds: bool
) -> str:
    """``helm template`` of a local or cached chart; raises :class:`ToolError` (message already redacted)."""
    scratch = tempfile.mkdtemp(prefix="fluxfleet-helm-")  # mode 0700: only this user can look in
    try:
        if isinstance(chart, CachedChart):
            chart_dir = chart.archive
        else:
            chart_dir = Path(scratch) / "chart"
            prefix = f"{chart.path}/" if chart.path else ""
            for rel in chart.tree.walk_files(chart.path):
                target = chart_dir / rel[len(prefix) :]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(chart.tree.read(rel)[0])
        values_file = os.path.join(scratch, "values.yaml")
        fd = os.open(values_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(yamlio.dump(values.merged) if values.merged else "{}\n")
        argv = [helm, "template", name, str(chart_dir), "--namespace", namespace, "--values", values_file]
        if include_crds:
            argv.append("--include-crds")
        try:
            return run(argv, cwd=scratch, timeout=HELM_TIMEOUT, what="helm template").text
        except ToolError as exc:
            raise ToolError(_redact(exc.message, values, scratch)) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _objects(text: str, namespace: str, release: Mapping[str, Any]) -> list[dict[str, Any]]:
    meta = release.get("metadata") or {}
    docs = yamlio.load_all(text, "<helm template output>")
    crd_kinds: set[tuple[str, str]] = set()
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
            spec = _spec(doc)
            names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
            if spec.get("scope") == "Cluster" and isinstance(names, dict):
                crd_kinds.add((str(spec.get("group") or ""), str(names.get("kind") or "")))
    out = []
    for doc in docs:
        if not isinstance(doc, dict) or not doc.get("kind"):
            continue
        body = dict(doc)
        body_meta = dict(body.get("metadata") or {})
        body["metadata"] = body_meta
        key = ObjectKey.of(body)
        scoped = (key.group, key.kind) in BUILTIN_CLUSTER_SCOPED or (key.group, key.kind) in crd_kinds
        if not scoped and not body_meta.get("namespace"):
            body_meta["namespace"] = namespace
        labels = dict(body_meta.get("labels") or {})
        labels[OWNER_NAME] = str(meta.get("name") or "")
        labels[OWNER_NAMESPACE] = str(meta.get("namespace") or "")
        body_meta["labels"] = labels
        out.append(body)
    return out


@dataclass(frozen=True)
class Outcome:
    info: HelmReleaseInfo
    entry: KustomizationRender | None = None
    error: RenderError | None = None


class HelmRenderer:
    """Renders the HelmReleases of each cluster; one per render session (it memoises helm runs)."""

    def __init__(self) -> None:
        self.helm = find_tool("helm")
        self._memo: dict[str, tuple[str | None, tuple[dict[str, Any], ...]]] = {}
        self.runs = 0

    def releases(
        self, cluster: str, kustomizations: list[KustomizationRender], sources: Sources
    ) -> list[Outcome]:
        objects = [o for ks in kustomizations for o in ks.objects]
        index: dict[tuple[str, str, str], dict[str, Any]] = {}
        helm_charts: dict[SourceRef, dict[str, Any]] = {}
        for obj in objects:
            k = obj.key
            if k.group == "" and k.kind in ("ConfigMap", "Secret"):
                index[(k.kind, k.namespace, k.name)] = obj.body
            elif k.group == SOURCE_GROUP and k.kind == "HelmChart":
                helm_charts[SourceRef("HelmChart", k.namespace, k.name)] = obj.body
        out = []
        for obj in objects:
            if obj.key.kind == "HelmRelease" and obj.key.group == HELM_GROUP:
                out.append(self._one(cluster, obj, sources, index, helm_charts))
        return out

    def _one(
        self,
        cluster: str,
        obj: K8sObject,
        sources: Sources,
        index: dict[tuple[str, str, str], dict[str, Any]],
        helm_charts: dict[SourceRef, dict[str, Any]],
    ) -> Outcome:
        body = obj.body
        listed = info(body, obj.source.kustomization, self.helm is not None)
        problem = spec_problem(_spec(body))
        if problem is not None:
            return Outcome(
                replace(listed, reason=f"not rendered: invalid HelmRelease: {problem}"),
                None,
                RenderError(
                    cluster,
                    f"invalid HelmRelease: {problem}",
                    f"{listed.namespace}/{listed.name}",
                    obj.source.file,
                    obj.source.line,
                ),
            )
        if self.helm is None:
            return Outcome(listed)
        spec = _spec(body)
        namespace = listed.namespace
        hr_id = f"{namespace}/{listed.name}"
        try:
            chart = locate(body, sources, helm_charts)
            values = chart_values(spec, namespace, lambda k, ns, n: index.get((k, ns, n)))
        except NotRendered as exc:
            return Outcome(replace(listed, reason=f"not rendered: {exc}"))
        target = str(spec.get("targetNamespace") or namespace)
        install = spec.get("install") if isinstance(spec.get("install"), dict) else {}
        include_crds = str((install or {}).get("crds") or "Create") != "Skip"
        name = release_name(body)
        if isinstance(chart, CachedChart):
            digests = [hashlib.sha256(chart.archive.read_bytes()).hexdigest()]
        else:
            digests = [chart.tree.read(rel)[1] + rel for rel in chart.tree.walk_files(chart.path)]
        key = hashlib.sha256(
            json.dumps(
                [digests, chart.path, name, target, include_crds, values.merged, hr_id],
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest()
        hit = self._memo.get(key)
        if hit is None:
            self.runs += 1
            try:
                text = template(self.helm, chart, name, target, values, include_crds)
                hit = (None, tuple(_objects(text, target, body)))
            except ToolError as exc:
                hit = (exc.message, ())
            except FleetError as exc:
                hit = (f"helm template output does not parse: {exc.message}", ())
            self._memo[key] = hit
        error, bodies = hit
        warnings: tuple[str, ...] = ()
        if spec.get("postRenderers"):
            warnings = (
                "spec.postRenderers are not applied by fluxfleet; the objects are shown without them",
            )
        chart_label = f"{chart.source}:{chart.path or '.'}"
        entry = KustomizationRender(
            name=listed.name,
            namespace=namespace,
            spec=spec,
            status=KsStatus.failed if error else KsStatus.rendered,
            path=chart.path,
            source=str(chart.source),
            parent=obj.source.kustomization,
            reason="helm template failed" if error else None,
            file=obj.source.file,
            objects=()
            if error
            else tuple(
                K8sObject.of(b, Provenance(file=chart.path or None, kustomization=hr_id)) for b in bodies
            ),
            kind="HelmRelease",
            warnings=warnings,
            build="helm",
            content_key=key,
        )
        if error:
            return Outcome(
                replace(listed, reason=f"not rendered: helm template failed ({chart_label})"),
                entry,
                RenderError(cluster, error, hr_id, obj.source.file),
            )
        return Outcome(
            replace(listed, rendered=True, reason=f"rendered from {chart_label}", objects=entry.objects),
            entry,
        )
