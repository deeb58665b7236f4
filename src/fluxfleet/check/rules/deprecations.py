"""Deprecated and removed APIs: Kubernetes (by minor version) and Flux (by Flux release).

Kubernetes dates follow the upstream deprecated-API migration guide; Flux removals follow the
Flux 2.7/2.8/2.9 upgrade notes (flux-build-semantics.md §1.2). Each entry names the replacement.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fluxfleet.check.context import ClusterContext
from fluxfleet.check.model import Severity, Violation
from fluxfleet.check.registry import object_rule
from fluxfleet.check.schemas import resolve_kubernetes_version
from fluxfleet.objects import K8sObject


@dataclass(frozen=True)
class ApiChange:
    group: str
    version: str
    kinds: frozenset[str] | None  # None: every kind of that group/version
    deprecated_in: tuple[int, int]
    removed_in: tuple[int, int]
    replacement: str
    flux: bool = False


def _k(group: str, version: str, kinds: str | None, dep: str, rem: str, repl: str) -> ApiChange:
    def v(s: str) -> tuple[int, int]:
        a, b = s.split(".")
        return int(a), int(b)

    return ApiChange(group, version, frozenset(kinds.split()) if kinds else None, v(dep), v(rem), repl)


def _f(group: str, version: str, rem: str, repl: str, kinds: str | None = None) -> ApiChange:
    a, b = rem.split(".")
    # Flux betas are deprecated from their GA release on; 2.0 is the first Flux v2 GA.
    return ApiChange(
        group, version, frozenset(kinds.split()) if kinds else None, (2, 0), (int(a), int(b)), repl, True
    )


KUBERNETES: tuple[ApiChange, ...] = (
    _k("extensions", "v1beta1", "Deployment DaemonSet ReplicaSet", "1.9", "1.16", "apps/v1"),
    _k("extensions", "v1beta1", "NetworkPolicy", "1.9", "1.16", "networking.k8s.io/v1"),
    _k("extensions", "v1beta1", "PodSecurityPolicy", "1.11", "1.16", "Pod Security Admission"),
    _k("extensions", "v1beta1", "Ingress", "1.14", "1.22", "networking.k8s.io/v1"),
    _k("apps", "v1beta1", None, "1.9", "1.16", "apps/v1"),
    _k("apps", "v1beta2", None, "1.9", "1.16", "apps/v1"),
    _k("networking.k8s.io", "v1beta1", "Ingress IngressClass", "1.19", "1.22", "networking.k8s.io/v1"),
    _k("admissionregistration.k8s.io", "v1beta1", None, "1.16", "1.22", "admissionregistration.k8s.io/v1"),
    _k("apiextensions.k8s.io", "v1beta1", None, "1.16", "1.22", "apiextensions.k8s.io/v1"),
    _k("apiregistration.k8s.io", "v1beta1", None, "1.19", "1.22", "apiregistration.k8s.io/v1"),
    _k("authentication.k8s.io", "v1beta1", None, "1.19", "1.22", "authentication.k8s.io/v1"),
    _k("authorization.k8s.io", "v1beta1", None, "1.19", "1.22", "authorization.k8s.io/v1"),
    _k("certificates.k8s.io", "v1beta1", None, "1.19", "1.22", "certificates.k8s.io/v1"),
    _k("coordination.k8s.io", "v1beta1", None, "1.19", "1.22", "coordination.k8s.io/v1"),
    _k("rbac.authorization.k8s.io", "v1beta1", None, "1.17", "1.22", "rbac.authorization.k8s.io/v1"),
    _k("scheduling.k8s.io", "v1beta1", None, "1.14", "1.22", "scheduling.k8s.io/v1"),
    _k(
        "storage.k8s.io",
        "v1beta1",
        "CSIDriver CSINode StorageClass VolumeAttachment",
        "1.19",
        "1.22",
        "storage.k8s.io/v1",
    ),
    _k("batch", "v1beta1", "CronJob", "1.21", "1.25", "batch/v1"),
    _k("discovery.k8s.io", "v1beta1", "EndpointSlice", "1.21", "1.25", "discovery.k8s.io/v1"),
    _k("events.k8s.io", "v1beta1", "Event", "1.19", "1.25", "events.k8s.io/v1"),
    _k("autoscaling", "v2beta1", "HorizontalPodAutoscaler", "1.22", "1.25", "autoscaling/v2"),
    _k("policy", "v1beta1", "PodDisruptionBudget", "1.21", "1.25", "policy/v1"),
    _k("policy", "v1beta1", "PodSecurityPolicy", "1.21", "1.25", "Pod Security Admission (namespace labels)"),
    _k("node.k8s.io", "v1beta1", "RuntimeClass", "1.20", "1.25", "node.k8s.io/v1"),
    _k("autoscaling", "v2beta2", "HorizontalPodAutoscaler", "1.23", "1.26", "autoscaling/v2"),
    _k("flowcontrol.apiserver.k8s.io", "v1beta1", None, "1.23", "1.26", "flowcontrol.apiserver.k8s.io/v1"),
    _k("storage.k8s.io", "v1beta1", "CSIStorageCapacity", "1.24", "1.27", "storage.k8s.io/v1"),
    _k("flowcontrol.apiserver.k8s.io", "v1beta2", None, "1.26", "1.29", "flowcontrol.apiserver.k8s.io/v1"),
    _k("flowcontrol.apiserver.k8s.io", "v1beta3", None, "1.29", "1.32", "flowcontrol.apiserver.k8s.io/v1"),
)

FLUX: tuple[ApiChange, ...] = (
    _f("kustomize.toolkit.fluxcd.io", "v1beta1", "2.7", "kustomize.toolkit.fluxcd.io/v1"),
    _f("kustomize.toolkit.fluxcd.io", "v1beta2", "2.8", "kustomize.toolkit.fluxcd.io/v1"),
    _f("source.toolkit.fluxcd.io", "v1beta1", "2.7", "source.toolkit.fluxcd.io/v1"),
    _f("source.toolkit.fluxcd.io", "v1beta2", "2.8", "source.toolkit.fluxcd.io/v1"),
    _f("helm.toolkit.fluxcd.io", "v2beta1", "2.7", "helm.toolkit.fluxcd.io/v2"),
    _f("helm.toolkit.fluxcd.io", "v2beta2", "2.8", "helm.toolkit.fluxcd.io/v2"),
    _f(
        "notification.toolkit.fluxcd.io",
        "v1beta1",
        "2.7",
        "notification.toolkit.fluxcd.io/v1beta3",
        "Alert Provider",
    ),
    _f(
        "notification.toolkit.fluxcd.io",
        "v1beta2",
        "2.9",
        "notification.toolkit.fluxcd.io/v1beta3",
        "Alert Provider",
    ),
    _f("notification.toolkit.fluxcd.io", "v1beta1", "2.7", "notification.toolkit.fluxcd.io/v1", "Receiver"),
    _f("notification.toolkit.fluxcd.io", "v1beta2", "2.9", "notification.toolkit.fluxcd.io/v1", "Receiver"),
    _f("image.toolkit.fluxcd.io", "v1beta1", "2.7", "image.toolkit.fluxcd.io/v1"),
    _f("image.toolkit.fluxcd.io", "v1beta2", "2.9", "image.toolkit.fluxcd.io/v1"),
)

# Fields Flux's GA APIs dropped, with what replaces them.
REMOVED_FIELDS: dict[tuple[str, str], tuple[tuple[tuple[str, ...], str], ...]] = {
    ("kustomize.toolkit.fluxcd.io", "Kustomization"): (
        (("spec", "patchesStrategicMerge"), "spec.patches"),
        (("spec", "patchesJson6902"), "spec.patches"),
        (("spec", "validation"), "nothing (server-side apply validates)"),
    ),
    ("helm.toolkit.fluxcd.io", "HelmRelease"): (
        (("spec", "chart", "spec", "valuesFile"), "spec.chart.spec.valuesFiles"),
    ),
}


def _parse_minor(version: str) -> tuple[int, int]:
    a, b = version.split(".")[:2]
    return int(a), int(b)


def lookup(group: str, version: str, kind: str) -> ApiChange | None:
    for table in (KUBERNETES, FLUX):
        for c in table:
            if c.group == group and c.version == version and (c.kinds is None or kind in c.kinds):
                return c
    return None


def target_of(change: ApiChange, ctx: ClusterContext) -> tuple[int, int]:
    if change.flux:
        return ctx.flux_version
    schemas = ctx.options.schemas
    k8s = schemas.kubernetes_version if schemas else resolve_kubernetes_version(ctx.policy.kubernetes_version)
    return _parse_minor(k8s)


def is_removed(obj: K8sObject, ctx: ClusterContext) -> bool:
    change = lookup(obj.key.group, obj.key.version, obj.key.kind)
    return change is not None and target_of(change, ctx) >= change.removed_in


def _fmt(v: tuple[int, int]) -> str:
    return f"{v[0]}.{v[1]}"


@object_rule(
    "api-removed",
    Severity.critical,
    hint="change apiVersion to the named replacement (`flux migrate` rewrites Flux APIs)",
    doc="the object uses an apiVersion the target Kubernetes or Flux version no longer serves",
    category="deprecation",
)
def api_removed(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    change = lookup(obj.key.group, obj.key.version, obj.key.kind)
    if change is None:
        return
    target = target_of(change, ctx)
    if target >= change.removed_in:
        product = "Flux" if change.flux else "Kubernetes"
        yield Violation(
            f"{obj.key.api_version} {obj.key.kind} was removed in {product} {_fmt(change.removed_in)} "
            f"(target {_fmt(target)}); use {change.replacement}",
            obj,
        )


@object_rule(
    "api-deprecated",
    Severity.medium,
    hint="move to the named replacement before upgrading",
    doc="the object uses a deprecated apiVersion that a later Kubernetes or Flux release removes",
    category="deprecation",
)
def api_deprecated(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    change = lookup(obj.key.group, obj.key.version, obj.key.kind)
    if change is None:
        return
    target = target_of(change, ctx)
    if change.deprecated_in <= target < change.removed_in:
        product = "Flux" if change.flux else "Kubernetes"
        yield Violation(
            f"{obj.key.api_version} {obj.key.kind} is deprecated and removed in {product} "
            f"{_fmt(change.removed_in)}; use {change.replacement}",
            obj,
        )


@object_rule(
    "flux-removed-fields",
    Severity.high,
    hint="move the setting to the named replacement field",
    doc="a Flux object sets a field its current API version dropped",
    category="deprecation",
    kinds=("Kustomization", "HelmRelease"),
)
def flux_removed_fields(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    for path, replacement in REMOVED_FIELDS.get((obj.key.group, obj.key.kind), ()):
        node: object = obj.body
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            yield Violation(
                f"`{'.'.join(path)}` is not part of {obj.key.api_version}; use {replacement}", obj
            )
