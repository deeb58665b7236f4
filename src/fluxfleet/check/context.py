"""What rules may look at: one rendered cluster, indexed once, plus the run's options.

Indices (objects by identity, namespaces, tenant namespaces, CRDs, Flux controller flags) are
built once per cluster so that rules stay simple lookups.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fluxfleet.fleet.policy import PolicyConfig
from fluxfleet.objects import BUILTIN_CLUSTER_SCOPED, K8sObject
from fluxfleet.render.files import FileTree
from fluxfleet.render.model import ClusterRender, KustomizationRender

if TYPE_CHECKING:
    from fluxfleet.check.rego import RegoPolicies
    from fluxfleet.check.schemas import SchemaStore

# Opens a sops document (path, content) with the run's keys: None when it opens and its MAC holds,
# else why not. The plaintext never leaves the adapter.
SopsVerify = Callable[[str, bytes], str | None]

FLUX_NAMESPACE = "flux-system"
TENANT_LABELS = ("toolkit.fluxcd.io/tenant", "fluxfleet.dev/team")
LATEST_FLUX = "2.9"


@dataclass
class CheckOptions:
    """Settings of one run. ``path_exists`` answers "does this repo path exist" (None: unknown)."""

    policy: PolicyConfig = field(default_factory=PolicyConfig)
    kubernetes_version: str | None = None
    flux_version: str = LATEST_FLUX
    today: date = field(default_factory=date.today)
    path_exists: Callable[[str], bool] | None = None
    schemas: SchemaStore | None = None
    rego: RegoPolicies | None = None
    environment: dict[str, str] = field(default_factory=dict)  # cluster -> environment (fleet.yaml)
    tenant_namespaces: frozenset[str] = frozenset()  # from fleet.yaml teams
    # Secrets rules (check/rules/secrets_sops.py): the repository root to read sops metadata of
    # source files, the age recipients per environment (fleet.yaml), and a sops adapter that, when
    # given (the run has key files), verifies every MAC. ``cache`` is a per-run memo for rules.
    repo: Path | None = None
    age_recipients: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sops_verify: SopsVerify | None = None
    cache: dict[str, Any] = field(default_factory=dict)
    # cluster -> its render at the base revision (check --base): rules that judge a change
    baseline: dict[str, ClusterRender] = field(default_factory=dict)
    # The revision being checked; when set, the secrets rules read it instead of ``repo`` on disk
    # (a promotion's "after" tree exists only in memory).
    tree: FileTree | None = None


def flux_version_tuple(version: str) -> tuple[int, int]:
    parts = version.removeprefix("v").split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        from fluxfleet.errors import FleetError

        raise FleetError(f"invalid Flux version {version!r}", hint="use a version like 2.9") from None


class ClusterContext:
    def __init__(self, render: ClusterRender, options: CheckOptions) -> None:
        self.render = render
        self.options = options
        self.policy = options.policy
        self.cluster = render.cluster
        self.labels = render.labels
        self.environment: str | None = options.environment.get(render.cluster) or render.labels.get(
            "environment"
        )
        self.objects: list[K8sObject] = render.objects
        self.kustomizations: dict[str, KustomizationRender] = {ks.id: ks for ks in render.kustomizations}
        self.cache: dict[str, Any] = {}  # per-cluster memo for rules (e.g. tenant reconcilers)
        self._index: dict[tuple[str, str, str, str], list[K8sObject]] = defaultdict(list)
        self.by_kind: dict[str, list[K8sObject]] = defaultdict(list)
        for obj in self.objects:
            k = obj.key
            self._index[(k.group, k.kind, k.namespace, k.name)].append(obj)
            self.by_kind[k.kind].append(obj)

    def find(self, group: str, kind: str, namespace: str, name: str) -> list[K8sObject]:
        return self._index.get((group, kind, namespace, name), [])

    def exists(self, group: str, kind: str, namespace: str, name: str) -> bool:
        return (group, kind, namespace, name) in self._index

    def of_kind(self, kind: str, group: str | None = None) -> list[K8sObject]:
        objs = self.by_kind.get(kind, [])
        return objs if group is None else [o for o in objs if o.key.group == group]

    @cached_property
    def namespaces(self) -> dict[str, K8sObject]:
        return {o.key.name: o for o in self.of_kind("Namespace", "")}

    @cached_property
    def crds(self) -> dict[tuple[str, str], dict[str, Any]]:
        """``(group, kind) -> CRD body`` for every CustomResourceDefinition rendered."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for o in self.of_kind("CustomResourceDefinition", "apiextensions.k8s.io"):
            spec = o.body.get("spec") or {}
            names = spec.get("names") or {}
            if isinstance(spec, dict) and isinstance(names, dict) and names.get("kind"):
                out[(str(spec.get("group") or ""), str(names["kind"]))] = o.body
        return out

    def is_namespaced(self, obj: K8sObject) -> bool | None:
        """True/False when the scope is known (built-in kind or CRD in the cluster), else None."""
        gk = (obj.key.group, obj.key.kind)
        if gk in BUILTIN_CLUSTER_SCOPED:
            return False
        crd = self.crds.get(gk)
        if crd is not None:
            return (crd.get("spec") or {}).get("scope") != "Cluster"
        if obj.key.group in _BUILTIN_GROUPS:
            return True
        return None

    def is_tenant_namespace(self, name: str) -> bool:
        return name in self.tenant_namespaces

    @cached_property
    def tenant_namespaces(self) -> frozenset[str]:
        # fleet.yaml teams count only where the render creates their namespace
        names = set(self.options.tenant_namespaces) & set(self.namespaces)
        for ns_name, ns in self.namespaces.items():
            labels = (ns.body.get("metadata") or {}).get("labels") or {}
            if isinstance(labels, dict) and any(lbl in labels for lbl in TENANT_LABELS):
                names.add(ns_name)
        patterns = self.policy.tenant_namespaces
        if patterns:
            known = set(self.namespaces) | {o.key.namespace for o in self.objects if o.key.namespace}
            names.update(n for n in known if any(fnmatch.fnmatchcase(n, p) for p in patterns))
        names.discard(FLUX_NAMESPACE)
        return frozenset(names)

    @cached_property
    def controller_args(self) -> dict[str, list[str]]:
        """Container args of the rendered Flux controllers (``kustomize-controller`` -> [...])."""
        out: dict[str, list[str]] = {}
        for dep in self.of_kind("Deployment", "apps"):
            if dep.key.namespace != FLUX_NAMESPACE:
                continue
            spec = ((dep.body.get("spec") or {}).get("template") or {}).get("spec") or {}
            for c in spec.get("containers") or []:
                if isinstance(c, dict) and c.get("name") == "manager":
                    out[dep.key.name] = [str(a) for a in c.get("args") or []]
        return out

    def controller_flag(self, controller: str, flag: str) -> str | None:
        """Value of ``--flag=value`` on a rendered controller (None when absent or not rendered)."""
        for arg in self.controller_args.get(controller, []):
            if arg == flag:
                return "true"
            if arg.startswith(flag + "="):
                return arg.split("=", 1)[1]
        return None

    @cached_property
    def no_cross_namespace_refs(self) -> bool:
        if self.policy.no_cross_namespace_refs is not None:
            return self.policy.no_cross_namespace_refs
        return (
            self.controller_flag("kustomize-controller", "--no-cross-namespace-refs") or ""
        ).lower() == "true"

    @cached_property
    def flux_version(self) -> tuple[int, int]:
        return flux_version_tuple(self.policy.flux_version or self.options.flux_version)


_BUILTIN_GROUPS = frozenset(
    {
        "",
        "apps",
        "batch",
        "autoscaling",
        "policy",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "storage.k8s.io",
    }
)
