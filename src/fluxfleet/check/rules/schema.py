"""Schema rules: every object against a schema, and honest reporting of objects without one.

Order of schema sources for an object: a CRD for its group/kind rendered into the same cluster;
the Kubernetes OpenAPI schema of the target version; for Flux kinds without a CRD in the cluster,
a structural check of the required fields of the current API versions (``flux-structure``, which
is deliberately labelled as such: it is not the full CRD schema). Anything else is "no schema".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fluxfleet.check.context import ClusterContext
from fluxfleet.check.model import Severity, Violation
from fluxfleet.check.registry import cluster_rule, object_rule
from fluxfleet.check.rules.deprecations import is_removed
from fluxfleet.check.schemas import crd_served_versions, validate
from fluxfleet.objects import K8sObject

FLUX_GROUPS = frozenset(
    {
        "kustomize.toolkit.fluxcd.io",
        "source.toolkit.fluxcd.io",
        "helm.toolkit.fluxcd.io",
        "notification.toolkit.fluxcd.io",
        "image.toolkit.fluxcd.io",
        "source.extensions.fluxcd.io",
    }
)
_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")

# Required fields of the current Flux APIs (path, expected type); from the Flux API reference.
_REQ = tuple[tuple[str, ...], type | tuple[type, ...]]
FLUX_REQUIRED: dict[tuple[str, str, str], tuple[_REQ, ...]] = {
    ("kustomize.toolkit.fluxcd.io", "v1", "Kustomization"): (
        (("spec", "interval"), str),
        (("spec", "prune"), bool),
        (("spec", "sourceRef", "kind"), str),
        (("spec", "sourceRef", "name"), str),
    ),
    ("source.toolkit.fluxcd.io", "v1", "GitRepository"): (
        (("spec", "url"), str),
        (("spec", "interval"), str),
    ),
    ("source.toolkit.fluxcd.io", "v1", "OCIRepository"): (
        (("spec", "url"), str),
        (("spec", "interval"), str),
    ),
    ("source.toolkit.fluxcd.io", "v1", "HelmRepository"): ((("spec", "url"), str),),
    ("source.toolkit.fluxcd.io", "v1", "Bucket"): (
        (("spec", "bucketName"), str),
        (("spec", "endpoint"), str),
        (("spec", "interval"), str),
    ),
    ("source.toolkit.fluxcd.io", "v1", "HelmChart"): (
        (("spec", "chart"), str),
        (("spec", "sourceRef", "kind"), str),
        (("spec", "sourceRef", "name"), str),
        (("spec", "interval"), str),
    ),
    ("helm.toolkit.fluxcd.io", "v2", "HelmRelease"): ((("spec", "interval"), str),),
    ("notification.toolkit.fluxcd.io", "v1beta3", "Provider"): ((("spec", "type"), str),),
    ("notification.toolkit.fluxcd.io", "v1beta3", "Alert"): (
        (("spec", "providerRef", "name"), str),
        (("spec", "eventSources"), list),
    ),
    ("notification.toolkit.fluxcd.io", "v1", "Receiver"): (
        (("spec", "type"), str),
        (("spec", "resources"), list),
        (("spec", "secretRef", "name"), str),
    ),
    ("image.toolkit.fluxcd.io", "v1", "ImageRepository"): ((("spec", "image"), str),),
    ("image.toolkit.fluxcd.io", "v1", "ImagePolicy"): (
        (("spec", "imageRepositoryRef", "name"), str),
        (("spec", "policy"), dict),
    ),
    ("image.toolkit.fluxcd.io", "v1", "ImageUpdateAutomation"): (
        (("spec", "sourceRef", "name"), str),
        (("spec", "interval"), str),
    ),
}
KS_SOURCE_KINDS = frozenset({"OCIRepository", "GitRepository", "Bucket", "ExternalArtifact"})


def _dig(body: Any, path: tuple[str, ...]) -> Any:
    for p in path:
        body = body.get(p) if isinstance(body, dict) else None
    return body


def _schema_source(obj: K8sObject, ctx: ClusterContext) -> tuple[str, Any] | None:
    """``(description, validator)`` for an object, or None when nothing describes it."""
    memo: dict[tuple[str, str, str], tuple[str, Any] | None] = ctx.cache.setdefault("schema_source", {})
    gvk = (obj.key.group, obj.key.version, obj.key.kind)
    if gvk not in memo:
        memo[gvk] = _find_schema(obj, ctx)
    return memo[gvk]


def _find_schema(obj: K8sObject, ctx: ClusterContext) -> tuple[str, Any] | None:
    store = ctx.options.schemas
    assert store is not None, "run_checks sets up the schema store"
    k = obj.key
    crd = ctx.crds.get((k.group, k.kind))
    if crd is not None:
        validator = store.crd(crd, k.version)
        return (
            (f"CRD {crd.get('metadata', {}).get('name', '')}", validator) if validator is not None else None
        )
    if k.group in FLUX_GROUPS:
        # Shipped with fluxfleet: strict, so a field Flux does not know is an error even when the
        # render has no Flux CRDs (a placeholder gotk-components.yaml).
        validator = store.flux(k.group, k.version, k.kind)
        if validator is not None:
            return ("Flux CRD shipped with fluxfleet", validator)
    validator = store.builtin(k.group, k.version, k.kind)
    if validator is not None:
        return (f"Kubernetes {store.kubernetes_version}", validator)
    return None


def _unserved(obj: K8sObject, ctx: ClusterContext) -> str | None:
    """Why this apiVersion does not exist for a kind we do know (None: served or unknown)."""
    k = obj.key
    crd = ctx.crds.get((k.group, k.kind))
    if crd is not None:
        served = crd_served_versions(crd)
        if k.version not in served:
            return f"CRD {crd.get('metadata', {}).get('name', '')} serves {', '.join(sorted(served))}"
        return None
    store = ctx.options.schemas
    assert store is not None
    versions = store.builtin_versions(k.group, k.kind)
    if versions and k.version not in versions:
        return f"Kubernetes {store.kubernetes_version} serves {', '.join(sorted(versions))}"
    return None


@object_rule(
    "schema",
    Severity.high,
    hint="fix the field named in the message (the API server would reject the object)",
    doc="the object is invalid against its Kubernetes OpenAPI schema or the CRD rendered in the cluster",
    category="schema",
)
def schema(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    if is_removed(obj, ctx):
        return  # api-removed already says why; no schema exists for it
    why = _unserved(obj, ctx)
    if why is not None:
        yield Violation(f"apiVersion {obj.key.api_version} is not served for {obj.key.kind}: {why}", obj)
        return
    found = _schema_source(obj, ctx)
    if found is None:
        return
    source, validator = found
    for err in validate(validator, obj.body):
        yield Violation(f"{err} (schema: {source})", obj)


def has_structure_check(obj: K8sObject) -> bool:
    return (obj.key.group, obj.key.version, obj.key.kind) in FLUX_REQUIRED


@cluster_rule(
    "schema-unknown",
    Severity.info,
    hint="render the CRD into the cluster (e.g. its gotk-components or chart CRDs) so objects can be validated",
    doc="objects of a kind with no schema available (neither Kubernetes nor a rendered CRD): not validated",
    category="schema",
)
def schema_unknown(ctx: ClusterContext) -> Iterator[Violation]:
    by_gvk: dict[tuple[str, str], list[K8sObject]] = {}
    for obj in ctx.objects:
        if obj.key.kind:
            by_gvk.setdefault((obj.key.api_version, obj.key.kind), []).append(obj)
    groups: dict[tuple[str, str], list[K8sObject]] = {}
    for gvk, objs in by_gvk.items():  # the answer depends on the kind only: decide once per kind
        first = objs[0]
        if is_removed(first, ctx) or has_structure_check(first) or _unserved(first, ctx):
            continue
        if _schema_source(first, ctx) is None:
            groups[gvk] = objs
    for (api, kind), objs in sorted(groups.items()):
        more = f" and {len(objs) - 1} more" if len(objs) > 1 else ""
        yield Violation(f"no schema for {kind} ({api}): {objs[0].key}{more} not validated", objs[0])


@object_rule(
    "flux-structure",
    Severity.high,
    hint="add the required field (see the Flux API reference for the kind)",
    doc="structural check of required Flux fields, used when the cluster's render has no Flux CRDs",
    category="schema",
)
def flux_structure(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    key = (obj.key.group, obj.key.version, obj.key.kind)
    required = FLUX_REQUIRED.get(key)
    if required is None or (obj.key.group, obj.key.kind) in ctx.crds:
        return
    store = ctx.options.schemas
    if store is None or store.flux(*key) is None:
        yield from _required_fields(obj, required)
    # CEL rules of the CRD (x-kubernetes-validations) are not JSON Schema; this one is checked here
    if obj.key.kind == "HelmRelease":
        spec = obj.body.get("spec") or {}
        if not isinstance(spec, dict) or (not spec.get("chart") and not spec.get("chartRef")):
            yield Violation("one of `spec.chart` or `spec.chartRef` is required (structural check)", obj)


@object_rule(
    "namespace-unset",
    Severity.high,
    hint="set metadata.namespace, or spec.targetNamespace on the Flux Kustomization",
    doc="a namespaced object has no namespace; Flux does not default it and the apply fails",
    category="schema",
)
def namespace_unset(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    if obj.key.namespace or not obj.key.kind:
        return
    if ctx.is_namespaced(obj):
        yield Violation(f"{obj.key} is namespaced but has no metadata.namespace", obj)


def _required_fields(obj: K8sObject, required: tuple[_REQ, ...]) -> Iterator[Violation]:
    for path, typ in required:
        value = _dig(obj.body, path)
        name = ".".join(path)
        if value is None:
            yield Violation(f"`{name}` is required (structural check; no Flux CRD in this render)", obj)
        elif not isinstance(value, typ) or (typ is str and not value):
            yield Violation(f"`{name}` has the wrong type (structural check)", obj)
        elif path[-1] == "interval" and isinstance(value, str) and not _DURATION.match(value):
            yield Violation(f"`{name}` {value!r} is not a duration like 10m (structural check)", obj)
    if obj.key.kind == "Kustomization":
        kind = _dig(obj.body, ("spec", "sourceRef", "kind"))
        if isinstance(kind, str) and kind and kind not in KS_SOURCE_KINDS:
            yield Violation(
                f"`spec.sourceRef.kind` {kind!r} must be one of {', '.join(sorted(KS_SOURCE_KINDS))}", obj
            )


WELL_KNOWN_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease", "flux-system"})


@cluster_rule(
    "namespace-missing",
    Severity.medium,
    hint="add the Namespace to the repository (or to the Kustomization that applies these objects)",
    doc="objects target a namespace that nothing in the cluster's render creates",
    category="schema",
)
def namespace_missing(ctx: ClusterContext) -> Iterator[Violation]:
    if any(ks.status.value != "rendered" for ks in ctx.render.kustomizations):
        return  # a namespace may come from what was not rendered; do not guess
    missing: dict[str, list[K8sObject]] = {}
    for obj in ctx.objects:
        ns = obj.key.namespace
        if ns and ns not in ctx.namespaces and ns not in WELL_KNOWN_NAMESPACES:
            missing.setdefault(ns, []).append(obj)
    for ns, objs in sorted(missing.items()):
        yield Violation(
            f"namespace {ns!r} is not created by this cluster's render ({len(objs)} objects use it)", objs[0]
        )
