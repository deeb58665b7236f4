"""Flux reference rules: sources, dependencies, paths, substitution and ownership of objects.

Flux itself detects none of these before reconciling: a missing source stalls, a dependency cycle
deadlocks silently, and two Kustomizations applying one object fight over it forever.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fluxfleet.check.context import ClusterContext
from fluxfleet.check.model import Severity, Violation
from fluxfleet.check.registry import cluster_rule, object_rule
from fluxfleet.objects import K8sObject

KS_GROUP = "kustomize.toolkit.fluxcd.io"
HELM_GROUP = "helm.toolkit.fluxcd.io"
SOURCE_GROUP = "source.toolkit.fluxcd.io"
SOURCE_GROUPS = {
    "GitRepository": SOURCE_GROUP,
    "OCIRepository": SOURCE_GROUP,
    "HelmRepository": SOURCE_GROUP,
    "HelmChart": SOURCE_GROUP,
    "Bucket": SOURCE_GROUP,
    "ExternalArtifact": SOURCE_GROUP,
    "ArtifactGenerator": "source.extensions.fluxcd.io",
}
_VAR = re.compile(r"(?<!\$)\$\{([^}]*)\}")


def _spec(obj: K8sObject) -> dict[str, Any]:
    spec = obj.body.get("spec")
    return spec if isinstance(spec, dict) else {}


def source_refs(obj: K8sObject) -> list[tuple[str, dict[str, Any]]]:
    """``(field, ref)`` for every source reference of a Flux object."""
    spec = _spec(obj)
    out: list[tuple[str, dict[str, Any]]] = []
    if obj.key.kind in ("Kustomization", "ImageUpdateAutomation", "HelmChart") and isinstance(
        spec.get("sourceRef"), dict
    ):
        out.append(("spec.sourceRef", spec["sourceRef"]))
    if obj.key.kind == "HelmRelease":
        chart = spec.get("chart")
        template = chart.get("spec") if isinstance(chart, dict) else None
        chart_ref = template.get("sourceRef") if isinstance(template, dict) else None
        if isinstance(chart_ref, dict):
            out.append(("spec.chart.spec.sourceRef", chart_ref))
        if isinstance(spec.get("chartRef"), dict):
            out.append(("spec.chartRef", spec["chartRef"]))
    return out


def root_sources(ctx: ClusterContext) -> set[str]:
    """Sources the render resolved to this repository for root Kustomizations (``flux bootstrap``
    creates them on the cluster; example repos often leave gotk-sync.yaml as a placeholder)."""
    return {ks.source for ks in ctx.render.kustomizations if ks.parent is None and ks.source}


def _unrendered(ctx: ClusterContext) -> list[str]:
    return sorted(ks.id for ks in ctx.render.kustomizations if ks.status.value in ("failed", "external"))


@object_rule(
    "flux-source-missing",
    Severity.high,
    hint="add the source object to the cluster, or fix sourceRef kind/name/namespace",
    doc="a Kustomization/HelmRelease/HelmChart references a source that does not exist in the cluster",
    category="flux",
    kinds=("Kustomization", "HelmRelease", "HelmChart", "ImageUpdateAutomation"),
)
def flux_source_missing(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    if obj.key.group not in (KS_GROUP, HELM_GROUP, SOURCE_GROUP, "image.toolkit.fluxcd.io"):
        return
    for field, ref in source_refs(obj):
        kind, name = str(ref.get("kind") or ""), str(ref.get("name") or "")
        if not kind or not name:
            continue
        ns = str(ref.get("namespace") or obj.key.namespace)
        group = SOURCE_GROUPS.get(kind, SOURCE_GROUP)
        if ctx.exists(group, kind, ns, name) or f"{kind}/{ns}/{name}" in root_sources(ctx):
            continue
        unknown = _unrendered(ctx)
        note = f" (it may be defined by unrendered {', '.join(unknown)})" if unknown else ""
        yield Violation(
            f"{field} {kind}/{ns}/{name} does not exist in the cluster{note}",
            obj,
            severity=Severity.medium if unknown else None,
        )


def _deps(obj: K8sObject) -> list[str]:
    out: list[str] = []
    deps = _spec(obj).get("dependsOn")
    for dep in deps if isinstance(deps, list) else []:
        if isinstance(dep, dict) and dep.get("name"):
            out.append(f"{dep.get('namespace') or obj.key.namespace}/{dep['name']}")
    return out


def _flux_nodes(ctx: ClusterContext, kind: str, group: str) -> dict[str, K8sObject]:
    return {f"{o.key.namespace}/{o.key.name}": o for o in ctx.of_kind(kind, group)}


@cluster_rule(
    "flux-dependency-missing",
    Severity.high,
    hint="create the dependency or remove it from dependsOn (a missing dependency blocks forever)",
    doc="dependsOn names a Kustomization/HelmRelease that does not exist in the cluster",
    category="flux",
)
def flux_dependency_missing(ctx: ClusterContext) -> Iterator[Violation]:
    for kind, group in (("Kustomization", KS_GROUP), ("HelmRelease", HELM_GROUP)):
        nodes = _flux_nodes(ctx, kind, group)
        known = set(nodes) | (set(ctx.kustomizations) if kind == "Kustomization" else set())
        unknown = _unrendered(ctx)
        for obj in nodes.values():
            for dep in _deps(obj):
                if dep not in known:
                    note = f" (it may be defined by unrendered {', '.join(unknown)})" if unknown else ""
                    yield Violation(
                        f"dependsOn {kind} {dep} does not exist in the cluster{note}",
                        obj,
                        severity=Severity.medium if unknown else None,
                    )


def find_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Every elementary cycle found by DFS, each reported once (rotated to its smallest node)."""
    seen_cycles: set[tuple[str, ...]] = set()
    out: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :]
                i = cycle.index(min(cycle))
                canon = tuple(cycle[i:] + cycle[:i])
                if canon not in seen_cycles:
                    seen_cycles.add(canon)
                    out.append([*canon, canon[0]])
            elif state.get(nxt) is None:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if state.get(node) is None:
            visit(node)
    return out


@cluster_rule(
    "flux-dependency-cycle",
    Severity.critical,
    hint="break the cycle: remove one dependsOn edge on the path shown",
    doc="dependsOn edges form a cycle; Flux does not detect it and the objects never reconcile",
    category="flux",
)
def flux_dependency_cycle(ctx: ClusterContext) -> Iterator[Violation]:
    for kind, group in (("Kustomization", KS_GROUP), ("HelmRelease", HELM_GROUP)):
        nodes = _flux_nodes(ctx, kind, group)
        graph = {k: _deps(o) for k, o in nodes.items()}
        for cycle in find_cycles(graph):
            yield Violation(f"{kind} dependency cycle: {' -> '.join(cycle)}", nodes[cycle[0]])


@cluster_rule(
    "flux-path-missing",
    Severity.high,
    hint="fix spec.path (it is relative to the source root) or add the folder",
    doc="a Kustomization's spec.path does not exist in the repository",
    category="flux",
)
def flux_path_missing(ctx: ClusterContext) -> Iterator[Violation]:
    exists = ctx.options.path_exists
    if exists is None:
        return
    # A fleet names a few dozen distinct paths from thousands of Kustomizations: ask the file
    # system once per path and run.
    known: dict[str, bool] = ctx.options.cache.setdefault("flux.path-exists", {})
    for ks in ctx.render.kustomizations:
        if ks.path is None or ks.status.value == "external":
            continue
        found = known.get(ks.path)
        if found is None:
            found = known[ks.path] = exists(ks.path)
        if not found:
            objs = ctx.find(KS_GROUP, "Kustomization", ks.namespace, ks.name)
            yield Violation(
                f"Kustomization {ks.id}: spec.path {ks.spec.get('path')!r} does not exist in the repository",
                objs[0] if objs else None,
                file=None if objs else ks.file,
                kustomization=ks.parent,
            )


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def _substitution_disabled(obj: K8sObject) -> bool:
    meta = obj.body.get("metadata") or {}
    for field in ("labels", "annotations"):
        marks = meta.get(field) or {}
        if isinstance(marks, dict) and marks.get("kustomize.toolkit.fluxcd.io/substitute") == "disabled":
            return True
    return False


@cluster_rule(
    "flux-unresolved-variable",
    Severity.high,
    hint="define the variable in postBuild.substitute(From), give it a default ${VAR:=x}, or escape it as $${VAR}",
    doc="a rendered object still contains ${VAR} after post-build substitution",
    category="flux",
)
def flux_unresolved_variable(ctx: ClusterContext) -> Iterator[Violation]:
    for ks in ctx.render.kustomizations:
        post = ks.spec.get("postBuild")
        if not isinstance(post, dict):
            continue  # Flux substitutes nothing without postBuild: ${...} is applied literally
        from_cluster = bool(post.get("substituteFrom"))
        for obj in ks.objects:
            # one C-speed repr() finds the rare objects worth walking
            if "${" not in repr(obj.body) or _substitution_disabled(obj):
                continue
            names = sorted({m.group(1) for s in _strings(obj.body) if "${" in s for m in _VAR.finditer(s)})
            if not names:
                continue
            listed = ", ".join("${" + n + "}" for n in names[:5])
            if from_cluster:
                yield Violation(
                    f"unresolved {listed}; Kustomization {ks.id} reads substituteFrom objects that are not "
                    "in the repository, so they may be defined on the cluster",
                    obj,
                    severity=Severity.medium,
                )
            else:
                yield Violation(f"unresolved {listed} after substitution by Kustomization {ks.id}", obj)


@cluster_rule(
    "flux-apply-conflict",
    Severity.high,
    hint="let exactly one Kustomization apply the object; remove it from the others",
    doc="one object is applied by two Flux Kustomizations, which then overwrite (and prune) each other",
    category="flux",
)
def flux_apply_conflict(ctx: ClusterContext) -> Iterator[Violation]:
    owners: dict[Any, dict[str, K8sObject]] = {}
    for obj in ctx.objects:
        k = obj.key
        ident = (k.group, k.kind, k.namespace, k.name)
        owners.setdefault(ident, {}).setdefault(obj.source.kustomization or "?", obj)
    for _ident, by_ks in sorted(owners.items()):
        if len(by_ks) > 1:
            names = sorted(by_ks)
            first = by_ks[names[0]]
            yield Violation(
                f"{first.key} is applied by {len(names)} Kustomizations: {', '.join(names)}", first
            )


def _bound_in(ctx: ClusterContext, sa_ns: str, sa: str, target: str) -> bool:
    """Whether a RoleBinding in ``target`` (or any ClusterRoleBinding) names the ServiceAccount."""
    groups = {"system:serviceaccounts", f"system:serviceaccounts:{sa_ns}"}
    rbac = "rbac.authorization.k8s.io"
    bindings = [b for b in ctx.of_kind("RoleBinding", rbac) if b.key.namespace == target]
    bindings += ctx.of_kind("ClusterRoleBinding", rbac)
    for b in bindings:
        for s in b.body.get("subjects") or []:
            if not isinstance(s, dict):
                continue
            if (
                s.get("kind") == "ServiceAccount"
                and s.get("name") == sa
                and (s.get("namespace") or b.key.namespace) == sa_ns
            ):
                return True
            if s.get("kind") == "Group" and s.get("name") in groups:
                return True
    return False


@cluster_rule(
    "flux-target-namespace-collision",
    Severity.medium,
    hint="give each tenant its own targetNamespace (and the Kustomization the same namespace)",
    doc="Kustomizations of different namespaces share a targetNamespace, or impersonate a ServiceAccount not bound there",
    category="flux",
)
def flux_target_namespace_collision(ctx: ClusterContext) -> Iterator[Violation]:
    by_target: dict[str, list[K8sObject]] = {}
    for obj in ctx.of_kind("Kustomization", KS_GROUP):
        target = _spec(obj).get("targetNamespace")
        if not isinstance(target, str) or not target:
            continue
        by_target.setdefault(target, []).append(obj)
        sa = _spec(obj).get("serviceAccountName")
        ns = obj.key.namespace
        if (
            sa
            and target != ns
            and ctx.exists("", "ServiceAccount", ns, str(sa))
            and not _bound_in(ctx, ns, str(sa), target)
        ):
            yield Violation(
                f"Kustomization {ns}/{obj.key.name} impersonates ServiceAccount {ns}/{sa}, which has no "
                f"RoleBinding in its targetNamespace {target!r} (the apply would be forbidden)",
                obj,
            )
    for target, objs in sorted(by_target.items()):
        owners = sorted({o.key.namespace for o in objs})
        if len(owners) > 1:
            names = ", ".join(f"{o.key.namespace}/{o.key.name}" for o in objs)
            yield Violation(
                f"targetNamespace {target!r} is shared by Kustomizations of namespaces {owners}: {names}",
                objs[0],
            )


@object_rule(
    "flux-prune-disabled",
    Severity.low,
    hint="set spec.prune: true so objects removed from git are removed from the cluster",
    doc="a Kustomization has prune: false; deleted manifests stay on the cluster",
    category="flux",
    kinds=("Kustomization",),
)
def flux_prune_disabled(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    if obj.key.group == KS_GROUP and _spec(obj).get("prune") is False:
        yield Violation(f"Kustomization {obj.key.namespace}/{obj.key.name} has prune: false", obj)


@object_rule(
    "flux-suspended",
    Severity.low,
    hint="remove spec.suspend (or set it to false) when the freeze is over",
    doc="a Flux object is suspended: git changes are not applied",
    category="flux",
    kinds=("Kustomization", "HelmRelease", *SOURCE_GROUPS, "ImageRepository", "ImageUpdateAutomation"),
)
def flux_suspended(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    if obj.key.group.endswith("fluxcd.io") and _spec(obj).get("suspend") is True:
        yield Violation(f"{obj.key} is suspended", obj)
