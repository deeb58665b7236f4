"""HelmReleases of a cluster rendered as helm-controller would, with a real ``helm template``.

Charts come from every Flux source: a chart folder in a GitRepository/Bucket that maps to a folder
(this repository, ``--source``), an ExternalArtifact staged from an ArtifactGenerator, or a remote
chart fetched through the chart cache (``charts.py``: HelmRepository over HTTP or OCI,
OCIRepository, HelmChart objects naming those). helm is ``FLUXFLEET_HELM``, else the one beside
fluxfleet's Python, else PATH; without it HelmReleases are listed, with the reason.

Values follow helm-controller: the chart's defaults (replaced by the HelmChart's ``valuesFiles``),
each ``valuesFrom`` entry in order (``valuesKey`` default ``values.yaml``; ``targetPath`` is a
``--set`` path with ``--set`` typing; ``optional`` skips a missing object or key), then inline
``spec.values``. Then the release name, namespace, CRD policy, hooks and capabilities become
``helm template`` flags, and the output goes through the post-render chain (``postRenderers``
through kustomize, ``commonMetadata``, owner labels; CRDs get only the labels).
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
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fluxfleet import yamlio
from fluxfleet.errors import FleetError
from fluxfleet.objects import BUILTIN_CLUSTER_SCOPED, K8sObject, ObjectKey, Provenance
from fluxfleet.proc import ToolError, find_tool, run
from fluxfleet.render import sandbox
from fluxfleet.render.charts import ChartCache, ChartRequest, ChartUnavailable
from fluxfleet.render.files import FileTree, norm
from fluxfleet.render.fluxks import SourceRef, Sources
from fluxfleet.render.model import HelmReleaseInfo, KsStatus, KustomizationRender, RenderError

HELM_GROUP = "helm.toolkit.fluxcd.io"
SOURCE_GROUP = "source.toolkit.fluxcd.io"
HELM_TIMEOUT = 120.0
HELM_WORKERS = 4
OWNER_NAME = "helm.toolkit.fluxcd.io/name"
OWNER_NAMESPACE = "helm.toolkit.fluxcd.io/namespace"
MASK = "***"
MAX_UNPACKED_BYTES = 100 << 20
MAX_UNPACKED_FILES = 10_000
HELM_CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"


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
        reason = f"not rendered: the chart from {source} was not resolved"
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


_PATH_PART = re.compile(r"(?:\\.|[^.\[\]]|\[[0-9]{1,5}\])+")
_INDEX = re.compile(r"\[([0-9]{1,5})\]")
_INT = re.compile(r"^(0|-?[1-9][0-9]*)$")
MAX_INDEX = 65536


def typed(value: str) -> Any:
    """A ``--set`` value as helm types it: quoted = string, bools, null, integers; else the string."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    if value in ("true", "false"):
        return value == "true"
    if value == "null":
        return None
    if _INT.match(value) and -(2**63) <= int(value) < 2**63:
        return int(value)
    return value


def _path_steps(path: str) -> list[str | int]:
    """``a.b\\.c[2].d`` → ``["a", "b.c", 2, "d"]`` (``\\`` escapes the next character)."""
    steps: list[str | int] = []
    key, i = "", 0
    while i < len(path):
        ch = path[i]
        if ch == "\\" and i + 1 < len(path):
            key += path[i + 1]
            i += 2
            continue
        if ch == ".":
            if key:
                steps.append(key)
            key = ""
        elif ch == "[":
            m = _INDEX.match(path, i)
            if m is None:
                raise NotRendered(f"targetPath {path!r} has a malformed list index")
            if key:
                steps.append(key)
            key = ""
            index = int(m.group(1))
            if index > MAX_INDEX:
                raise NotRendered(f"targetPath {path!r}: list index {index} is above {MAX_INDEX}")
            steps.append(index)
            i = m.end()
            continue
        else:
            key += ch
        i += 1
    if key:
        steps.append(key)
    if not steps or not isinstance(steps[0], str):
        raise NotRendered(f"targetPath {path!r} must start with a key")
    return steps


def _put(node: Any, steps: list[str | int], value: Any) -> Any:
    step, rest = steps[0], steps[1:]
    if isinstance(step, int):
        items = list(node) if isinstance(node, list) else []
        while len(items) <= step:
            items.append(None)  # helm fills the gaps with null
        items[step] = _put(items[step], rest, value) if rest else value
        return items
    out = dict(node) if isinstance(node, dict) else {}
    out[step] = _put(out.get(step), rest, value) if rest else value
    return out


def set_path(values: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``targetPath``: ``value`` at a helm ``--set`` path (``.`` nests, ``[N]`` indexes, ``\\`` escapes)."""
    result: dict[str, Any] = _put(values, _path_steps(path), value)
    return result


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
            literal = bool(ref.get("literal"))
            result.merged = set_path(result.merged, str(target), text if literal else typed(text))
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
    """A packaged chart fetched from a remote source (a blob of the chart cache)."""

    archive: Path
    source: SourceRef
    version: str = ""
    # helm-controller appends "+<12 hex of the manifest digest>" to .Chart.Version of charts from an
    # OCIRepository (chart digest tracking), which labels such as helm.sh/chart then show
    version_suffix: str = ""

    @property
    def path(self) -> str:
        return self.archive.name


@dataclass(frozen=True)
class RemoteChart:
    """A chart that has to be fetched: what to ask the chart cache for."""

    request: ChartRequest
    source: SourceRef


def find_helm() -> tuple[str | None, str]:
    """The helm to run and, when there is none, why: ``FLUXFLEET_HELM``, beside Python, then PATH."""
    explicit = os.environ.get("FLUXFLEET_HELM")
    if explicit:
        if os.path.isfile(explicit) and os.access(explicit, os.X_OK):
            return explicit, ""
        return None, f"FLUXFLEET_HELM={explicit} is not an executable file"
    found = find_tool("helm")
    return found, "" if found else "no helm binary found (set FLUXFLEET_HELM or put helm on PATH)"


def helm_version(helm: str) -> str | None:
    """What ``helm version --short`` prints (``v4.3.1+gc0d08d0``), or None when it does not run."""
    try:
        return run([helm, "version", "--short"], timeout=30, what="helm version").text.strip() or None
    except ToolError:
        return None


def _chart_in(tree: FileTree, chart: str, source: SourceRef) -> LocalChart:
    path = norm(chart)
    if path is None:
        raise NotRendered(f"chart path {chart!r} escapes the source root")
    if not tree.is_file(f"{path}/Chart.yaml" if path else "Chart.yaml"):
        raise NotRendered(f"chart path {chart!r} in {source} holds no Chart.yaml")
    return LocalChart(tree, path, source)


Index = Mapping[SourceRef, dict[str, Any]]


def _repository_chart(chart_spec: Mapping[str, Any], source: SourceRef, repos: Index) -> RemoteChart:
    repo = repos.get(source)
    if repo is None:
        raise NotRendered(f"{source} is not in the render")
    repo_spec = _spec(repo)
    url = str(repo_spec.get("url") or "")
    name = str(chart_spec.get("chart") or "")
    version = str(chart_spec.get("version") or "*")
    if not name or "/" in name or ".." in name:
        raise NotRendered(f"chart name {name!r} of {source} is not a chart name")
    if repo_spec.get("type") == "oci" or url.startswith("oci://"):
        request = ChartRequest(
            "oci", f"{url.rstrip('/')}/{name}", name, version, plain_http=bool(repo_spec.get("insecure"))
        )
    else:
        request = ChartRequest("http", url, name, version)
    return RemoteChart(request, source)


def _oci_chart(source: SourceRef, repos: Index) -> RemoteChart:
    repo = repos.get(source)
    if repo is None:
        raise NotRendered(f"{source} is not in the render")
    spec = _spec(repo)
    url = str(spec.get("url") or "").rstrip("/")
    if not url.startswith("oci://"):
        raise NotRendered(f"{source} url {url!r} is not an oci:// URL")
    raw_selector = spec.get("layerSelector")
    selector: dict[str, Any] = raw_selector if isinstance(raw_selector, dict) else {}
    media = str(selector.get("mediaType") or "")
    if media and media != HELM_CHART_LAYER:
        raise NotRendered(f"{source} selects layer {media!r}, which is not a Helm chart")
    raw_ref = spec.get("ref")
    ref: dict[str, Any] = raw_ref if isinstance(raw_ref, dict) else {}
    chart = url.rsplit("/", 1)[-1]
    plain = bool(spec.get("insecure"))
    if ref.get("digest"):  # source-controller's order: digest, then semver, then tag
        request = ChartRequest("oci", url, chart, digest=str(ref["digest"]), plain_http=plain)
    elif ref.get("semver"):
        request = ChartRequest("oci", url, chart, str(ref["semver"]), plain_http=plain)
    else:
        tag = str(ref.get("tag") or "latest")
        request = ChartRequest("oci", url, chart, tag, plain_http=plain, semver=False)
    return RemoteChart(request, source)


def _artifact_chart(ref: SourceRef, sources: Sources) -> LocalChart:
    """An ExternalArtifact holding one chart folder (helm-controller loads it as an archive)."""
    tree = sources.tree_for(ref)
    if tree is None:
        why = sources.artifact_errors.get(ref)
        raise NotRendered(
            f"{ref} cannot be built offline: {why}"
            if why
            else f"{ref} is made by no ArtifactGenerator of the render and is not mapped with --source"
        )
    if tree.is_file("Chart.yaml"):
        return LocalChart(tree, "", ref)
    charts = [n for n, is_dir in tree.listdir("") if is_dir and tree.is_file(f"{n}/Chart.yaml")]
    if len(charts) != 1:
        raise NotRendered(f"{ref} must hold exactly one chart folder (found {len(charts)})")
    return LocalChart(tree, charts[0], ref)


def locate(
    body: Mapping[str, Any], sources: Sources, helm_charts: Index, repos: Index | None = None
) -> LocalChart | RemoteChart:
    """Where the chart of a HelmRelease comes from; raises :class:`NotRendered` with the reason."""
    repos = repos or {}
    meta = body.get("metadata") or {}
    namespace = str(meta.get("namespace") or "")
    spec = _spec(body)
    chart_ref = spec.get("chartRef")
    if isinstance(chart_ref, dict):
        ref = _ref(chart_ref, namespace)
        if ref.kind == "OCIRepository":
            return _oci_chart(ref, repos)
        if ref.kind == "ExternalArtifact":
            return _artifact_chart(ref, sources)
        if ref.kind != "HelmChart":
            raise NotRendered(f"the chart comes from {ref}, which fluxfleet cannot resolve offline")
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
        return _repository_chart(chart_spec, source, repos)
    if source.kind not in ("GitRepository", "Bucket"):
        raise NotRendered(f"the chart comes from {source}, which fluxfleet cannot resolve")
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


@dataclass(frozen=True)
class TemplateArgs:
    """What ``helm template`` is told besides chart and values (all part of the memo key)."""

    name: str
    namespace: str
    include_crds: bool = True
    kube_version: str | None = None
    api_versions: tuple[str, ...] = ()
    no_hooks: bool = False
    skip_tests: bool = True

    def flags(self) -> list[str]:
        out = ["--namespace", self.namespace]
        if self.include_crds:
            out.append("--include-crds")
        if self.kube_version:
            out += ["--kube-version", self.kube_version]
        for version in self.api_versions:
            out += ["--api-versions", version]
        if self.no_hooks:
            out.append("--no-hooks")
        if self.skip_tests:
            out.append("--skip-tests")
        return out


def _private_file(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _unpack(chart: CachedChart, target: Path) -> Path:
    """The chart archive unpacked into ``target``; returns the chart folder."""
    try:
        with tarfile.open(chart.archive, "r:gz") as tar:
            # a 64 MiB download can inflate to terabytes: count before writing anything (helm's own
            # loader refuses charts above 100 MiB unpacked, so no real chart is turned away)
            total = 0
            for members, member in enumerate(tar, start=1):
                total += member.size
                if total > MAX_UNPACKED_BYTES or members > MAX_UNPACKED_FILES:
                    raise ToolError(
                        f"chart archive {chart.archive.name} unpacks to more than "
                        f"{MAX_UNPACKED_BYTES >> 20} MiB or {MAX_UNPACKED_FILES} files"
                    )
            tar.extractall(target, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise ToolError(f"chart archive {chart.archive.name} cannot be unpacked: {exc}") from None
    tops = [p for p in target.iterdir() if (p / "Chart.yaml").is_file()]
    if len(tops) != 1:
        raise ToolError(f"chart archive {chart.archive.name} holds {len(tops)} charts, not one")
    return tops[0]


def _set_version_suffix(chart_dir: Path, suffix: str) -> None:
    """Chart.yaml's version with the build suffix source- or helm-controller gives it."""
    chart_yaml = chart_dir / "Chart.yaml"
    docs = yamlio.load_all(chart_yaml.read_text(encoding="utf-8"), "Chart.yaml")
    meta = docs[0] if docs and isinstance(docs[0], dict) else {}
    version = str(meta.get("version") or "").removeprefix("v").split("+")[0]
    meta["version"] = f"{version}+{suffix}"
    chart_yaml.write_text(yamlio.dump(meta), encoding="utf-8")


@dataclass(frozen=True)
class ValuesFiles:
    """``valuesFiles`` of the HelmChart: merged in order, they replace the chart's values.yaml."""

    paths: tuple[str, ...] = ()
    ignore_missing: bool = False


def values_files_of(body: Mapping[str, Any], helm_charts: Index) -> ValuesFiles:
    spec = _spec(body)
    chart_spec: Mapping[str, Any] = {}
    chart_ref = spec.get("chartRef")
    if isinstance(chart_ref, dict):
        if chart_ref.get("kind") == "HelmChart":
            meta = body.get("metadata") or {}
            ref = _ref(chart_ref, str(meta.get("namespace") or ""))
            chart_spec = _spec(helm_charts.get(ref) or {})
    elif isinstance(spec.get("chart"), dict) and isinstance(spec["chart"].get("spec"), dict):
        chart_spec = spec["chart"]["spec"]
    files = chart_spec.get("valuesFiles")
    if not isinstance(files, list) or not files:
        return ValuesFiles()
    return ValuesFiles(tuple(str(f) for f in files), bool(chart_spec.get("ignoreMissingValuesFiles")))


def _compose_values_files(files: ValuesFiles, read: Callable[[str], bytes | None]) -> str:
    merged: dict[str, Any] = {}
    for path in files.paths:
        data = read(path)
        if data is None:
            if files.ignore_missing:
                continue
            raise ToolError(f"valuesFiles: {path} does not exist in the chart's source")
        try:
            docs = yamlio.load_all(data.decode("utf-8"), path)
        except (FleetError, UnicodeDecodeError):
            raise ToolError(f"valuesFiles: {path} is not YAML") from None
        if docs and isinstance(docs[0], dict):
            merged = merge_maps(merged, docs[0])
    return yamlio.dump(merged) if merged else "{}\n"


def _chart_dir(chart: LocalChart | CachedChart, scratch: Path, files: ValuesFiles) -> Path:
    """Where helm finds the chart: the archive itself, or a folder when something must change."""
    if isinstance(chart, CachedChart) and not chart.version_suffix and not files.paths:
        return chart.archive
    if isinstance(chart, CachedChart):
        chart_dir = _unpack(chart, scratch / "chart")

        def read(path: str) -> bytes | None:  # HelmRepository charts: relative to the chart root
            rel = norm(path)
            target = chart_dir / rel if rel else None
            return target.read_bytes() if target is not None and target.is_file() else None
    else:
        chart_dir = scratch / "chart"
        prefix = f"{chart.path}/" if chart.path else ""
        for rel in chart.tree.walk_files(chart.path):
            target = chart_dir / rel[len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(chart.tree.read(rel)[0])

        def read(path: str) -> bytes | None:  # Git/Bucket charts: relative to the source root
            rel = norm(path)
            return chart.tree.read(rel)[0] if rel and chart.tree.is_file(rel) else None

    suffix = chart.version_suffix if isinstance(chart, CachedChart) else ""
    if files.paths:
        (chart_dir / "values.yaml").write_text(_compose_values_files(files, read), encoding="utf-8")
        suffix = suffix or "1"  # source-controller: "+<HelmChart generation>", 1 for a new object
    if suffix:
        _set_version_suffix(chart_dir, suffix)
    return chart_dir


def template(
    helm: str,
    chart: LocalChart | CachedChart,
    args: TemplateArgs,
    values: Values,
    files: ValuesFiles = ValuesFiles(),
) -> str:
    """``helm template`` of a local or cached chart; raises :class:`ToolError` (message already redacted)."""
    scratch = tempfile.mkdtemp(prefix="fluxfleet-helm-")  # mode 0700: only this user can look in
    try:
        chart_dir = _chart_dir(chart, Path(scratch), files)
        if chart_dir == getattr(chart, "archive", None):
            # the confined helm reads only the scratch folder, not the chart cache
            chart_dir = Path(shutil.copyfile(chart_dir, os.path.join(scratch, chart_dir.name)))
        values_file = os.path.join(scratch, "values.yaml")
        _private_file(values_file, yamlio.dump(values.merged) if values.merged else "{}\n")
        home = Path(scratch) / "home"
        home.mkdir()
        argv = [helm, "template", args.name, str(chart_dir), "--values", values_file, *args.flags()]
        # A chart may come from a stranger's pull request: helm gets the kustomize treatment (reads
        # only the scratch folder, no TCP, none of the caller's environment, memory and CPU limits,
        # its whole process group killed on a timeout).
        with sandbox.confined(Path(scratch), helm, timeout=HELM_TIMEOUT) as confinement:
            try:
                return run(
                    argv,
                    cwd=scratch,
                    env=sandbox.clean_env(home),
                    timeout=HELM_TIMEOUT,
                    what="helm template",
                    preexec=confinement.preexec(),
                    pass_fds=confinement.pass_fds,
                    own_group=True,
                ).text
            except ToolError as exc:
                raise ToolError(_redact(exc.message, values, scratch)) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


_SOURCE_LINE = re.compile(r"^# Source: ([^\n]+)$", re.M)
_DOC_SPLIT = re.compile(r"^---[ \t]*$", re.M)


def split_output(text: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """helm's output as (CRDs from the chart's ``crds/`` folders, everything else)."""
    crds: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    for chunk in _DOC_SPLIT.split(text):
        if not chunk.strip():
            continue
        source = _SOURCE_LINE.search(chunk)
        from_crds = bool(source and "/crds/" in f"/{source.group(1)}")
        for doc in yamlio.load_all(chunk, "<helm template output>"):
            if isinstance(doc, dict) and doc.get("kind"):
                (crds if from_crds else rest).append(doc)
    return crds, rest


def post_render(
    docs: list[dict[str, Any]], post_renderers: list[Any], kustomize: Callable[[Path], str]
) -> list[dict[str, Any]]:
    """helm-controller's ``postRenderers``: each ``kustomize`` entry in order, patches then images."""
    for item in post_renderers:
        spec = item.get("kustomize") if isinstance(item, dict) else None
        if not isinstance(spec, dict) or not (spec.get("patches") or spec.get("images")):
            continue
        kustomization: dict[str, Any] = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": ["resources.yaml"],
        }
        if spec.get("patches"):
            kustomization["patches"] = spec["patches"]
        if spec.get("images"):
            kustomization["images"] = spec["images"]
        scratch = tempfile.mkdtemp(prefix="fluxfleet-postrender-")
        try:
            _private_file(os.path.join(scratch, "resources.yaml"), yamlio.dump_all(docs) if docs else "")
            _private_file(os.path.join(scratch, "kustomization.yaml"), yamlio.dump(kustomization))
            text = kustomize(Path(scratch))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        docs = [d for d in yamlio.load_all(text, "<post-rendered output>") if isinstance(d, dict)]
    return docs


def _common_metadata(docs: list[dict[str, Any]], common: Any) -> None:
    if not isinstance(common, dict):
        return
    for doc in docs:
        meta = doc.setdefault("metadata", {})
        for field_name in ("labels", "annotations"):
            extra = common.get(field_name)
            if isinstance(extra, dict) and extra:
                merged = dict(meta.get(field_name) or {})
                merged.update({str(k): str(v) for k, v in extra.items()})
                meta[field_name] = merged


def _objects(
    crds: list[dict[str, Any]], docs: list[dict[str, Any]], namespace: str, release: Mapping[str, Any]
) -> list[dict[str, Any]]:
    meta = release.get("metadata") or {}
    crd_kinds: set[tuple[str, str]] = set()
    for doc in crds + docs:
        if doc.get("kind") == "CustomResourceDefinition":
            spec = _spec(doc)
            names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
            if spec.get("scope") == "Cluster" and isinstance(names, dict):
                crd_kinds.add((str(spec.get("group") or ""), str(names.get("kind") or "")))
    out = []
    for doc in crds + docs:
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


def api_versions(objects: list[K8sObject]) -> tuple[str, ...]:
    """``g/v`` and ``g/v/Kind`` of every CRD in the render, as live discovery would serve them."""
    out: set[str] = set()
    for obj in objects:
        if obj.key.kind != "CustomResourceDefinition":
            continue
        spec = _spec(obj.body)
        names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
        group, kind = str(spec.get("group") or ""), str((names or {}).get("kind") or "")
        for version in spec.get("versions") or []:
            if isinstance(version, dict) and version.get("served", True) and version.get("name") and group:
                out.add(f"{group}/{version['name']}")
                if kind:
                    out.add(f"{group}/{version['name']}/{kind}")
    return tuple(sorted(out))


@dataclass(frozen=True)
class Outcome:
    info: HelmReleaseInfo
    entry: KustomizationRender | None = None
    error: RenderError | None = None


@dataclass(frozen=True)
class _Job:
    """One HelmRelease ready for ``helm template`` (``key``: its memo key)."""

    key: str
    obj: K8sObject
    listed: HelmReleaseInfo
    chart: LocalChart | CachedChart
    args: TemplateArgs
    values: Values
    post_renderers: list[Any]
    files: ValuesFiles


class HelmRenderer:
    """Renders the HelmReleases of each cluster; one per render session (it memoises helm runs).

    ``charts`` fetches remote charts (the network adapter); ``kustomize`` builds a folder (for
    ``postRenderers``); ``kube_version`` is what ``.Capabilities.KubeVersion`` says.
    """

    def __init__(
        self,
        charts: ChartCache | None = None,
        kustomize: Callable[[Path], str] | None = None,
        kube_version: str | None = None,
    ) -> None:
        self.helm, self.missing = find_helm()
        self.charts = charts if charts is not None else ChartCache()
        if self.charts.helm is None:
            self.charts.helm = self.helm
        self.kustomize = kustomize
        self.kube_version = kube_version
        self._memo: dict[str, tuple[str | None, tuple[dict[str, Any], ...]]] = {}
        self.runs = 0

    def releases(
        self, cluster: str, kustomizations: list[KustomizationRender], sources: Sources
    ) -> list[Outcome]:
        objects = [o for ks in kustomizations for o in ks.objects]
        index: dict[tuple[str, str, str], dict[str, Any]] = {}
        refs: dict[SourceRef, dict[str, Any]] = {}
        for obj in objects:
            k = obj.key
            if k.group == "" and k.kind in ("ConfigMap", "Secret"):
                index[(k.kind, k.namespace, k.name)] = obj.body
            elif k.group == SOURCE_GROUP and k.kind in ("HelmChart", "HelmRepository", "OCIRepository"):
                refs[SourceRef(k.kind, k.namespace, k.name)] = obj.body
        apis = api_versions(objects)
        prepared = [
            self._prepare(cluster, obj, sources, index, refs, apis)
            for obj in objects
            if obj.key.kind == "HelmRelease" and obj.key.group == HELM_GROUP
        ]
        jobs = {p.key: p for p in prepared if isinstance(p, _Job) and p.key not in self._memo}
        if jobs:
            # helm runs are separate processes: run them side by side (fetching stays serial)
            workers = max(1, min(HELM_WORKERS, os.cpu_count() or 1, len(jobs)))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="helm") as pool:
                results = pool.map(self._render_job, jobs.values())
                for job, result in zip(jobs.values(), results, strict=True):
                    self._memo[job.key] = result
            self.runs += len(jobs)
        return [p if isinstance(p, Outcome) else self._assemble(cluster, p) for p in prepared]

    def _render_job(self, job: _Job) -> tuple[str | None, tuple[dict[str, Any], ...]]:
        return self._render(job.chart, job.args, job.values, job.obj.body, job.post_renderers, job.files)

    def _chart(self, body: Mapping[str, Any], sources: Sources, refs: Index) -> LocalChart | CachedChart:
        helm_charts = {r: b for r, b in refs.items() if r.kind == "HelmChart"}
        located = locate(body, sources, helm_charts, refs)
        if isinstance(located, LocalChart):
            return located
        try:
            fetched = self.charts.fetch(located.request)
        except ChartUnavailable as exc:
            raise NotRendered(f"chart {located.request.label()} ({located.source}): {exc}") from None
        suffix = ""
        if located.source.kind == "OCIRepository" and fetched.digest.startswith("sha256:"):
            suffix = fetched.digest.removeprefix("sha256:")[:12]
        return CachedChart(fetched.archive, located.source, fetched.version, suffix)

    def _prepare(
        self,
        cluster: str,
        obj: K8sObject,
        sources: Sources,
        index: dict[tuple[str, str, str], dict[str, Any]],
        refs: Index,
        apis: tuple[str, ...],
    ) -> Outcome | _Job:
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
            return Outcome(replace(listed, reason=f"not rendered: {self.missing}"))
        spec = _spec(body)
        namespace = listed.namespace
        hr_id = f"{namespace}/{listed.name}"
        try:
            chart = self._chart(body, sources, refs)
            values = chart_values(spec, namespace, lambda k, ns, n: index.get((k, ns, n)))
        except NotRendered as exc:
            return Outcome(replace(listed, reason=f"not rendered: {exc}"))
        target = str(spec.get("targetNamespace") or namespace)
        install = spec.get("install") if isinstance(spec.get("install"), dict) else {}
        test = spec.get("test") if isinstance(spec.get("test"), dict) else {}
        args = TemplateArgs(
            name=release_name(body),
            namespace=target,
            # hc resolves an unset policy to Create, for installs and upgrades alike
            include_crds=str((install or {}).get("crds") or "Create") != "Skip",
            kube_version=self.kube_version,
            api_versions=apis,
            no_hooks=bool((install or {}).get("disableHooks")),
            skip_tests=not (test or {}).get("enable"),
        )
        post_renderers = spec.get("postRenderers") if isinstance(spec.get("postRenderers"), list) else []
        files = values_files_of(body, {r: b for r, b in refs.items() if r.kind == "HelmChart"})
        if isinstance(chart, CachedChart):
            digests = [hashlib.sha256(chart.archive.read_bytes()).hexdigest()]
        else:
            digests = [chart.tree.read(rel)[1] + rel for rel in chart.tree.walk_files(chart.path)]
        key = hashlib.sha256(
            json.dumps(
                [
                    digests,
                    chart.path,
                    args,
                    values.merged,
                    hr_id,
                    post_renderers,
                    spec.get("commonMetadata"),
                    files,
                    chart.version_suffix if isinstance(chart, CachedChart) else "",
                ],
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest()
        return _Job(key, obj, listed, chart, args, values, post_renderers or [], files)

    def _assemble(self, cluster: str, job: _Job) -> Outcome:
        obj, listed, chart, key = job.obj, job.listed, job.chart, job.key
        spec = _spec(obj.body)
        namespace = listed.namespace
        hr_id = f"{namespace}/{listed.name}"
        error, bodies = self._memo[key]
        if isinstance(chart, CachedChart):
            chart_label = f"{chart.source}: {listed.chart} {chart.version}".rstrip()
        else:
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
            build="helm",
            content_key=key,
        )
        if error:
            return Outcome(
                replace(listed, reason=f"not rendered: helm template failed ({chart_label})"),
                entry,
                RenderError(cluster, error, hr_id, obj.source.file),
            )
        version = chart.version if isinstance(chart, CachedChart) else listed.version
        return Outcome(
            replace(
                listed,
                version=version or listed.version,
                rendered=True,
                reason=f"rendered from {chart_label}",
                objects=entry.objects,
            ),
            entry,
        )

    def _render(
        self,
        chart: LocalChart | CachedChart,
        args: TemplateArgs,
        values: Values,
        body: Mapping[str, Any],
        post_renderers: list[Any],
        files: ValuesFiles,
    ) -> tuple[str | None, tuple[dict[str, Any], ...]]:
        assert self.helm is not None
        try:
            text = template(self.helm, chart, args, values, files)
            crds, docs = split_output(text)
            if post_renderers and self.kustomize is not None:
                docs = post_render(docs, post_renderers, self.kustomize)
            _common_metadata(docs, _spec(body).get("commonMetadata"))
            return None, tuple(_objects(crds, docs, args.namespace, body))
        except ToolError as exc:
            return _redact(exc.message, values, tempfile.gettempdir()), ()
        except FleetError as exc:
            return f"helm output does not parse: {_redact(exc.message, values, tempfile.gettempdir())}", ()
