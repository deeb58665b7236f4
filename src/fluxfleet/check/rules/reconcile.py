""" "Would it reconcile": what makes a render break a live cluster even though every object is valid.

Together with ``flux-source-missing``, ``flux-dependency-missing`` and ``flux-apply-conflict``
(check/rules/flux_refs.py) these rules answer "will this break my cluster":

- ``flux-impersonation-unbound``: the account a Kustomization/HelmRelease runs as must be bound
  where it applies things (helm-controller and kustomize-controller impersonate
  ``<object namespace>:<serviceAccountName>``, or ``--default-service-account`` when unset).
- ``prune-system-namespace``: a pruned Kustomization that owns kube-system, default... would delete
  it, with everything inside, the day the object leaves the repository.
- ``flux-self-removal``: against a baseline render (``check --base``), a change that drops Flux's own
  controllers, CRDs or the flux-system sync objects; the flux-system Kustomization prunes, so Flux
  would uninstall itself and every custom resource with its CRDs.
- ``flux-crd-missing``: a Flux object whose CRD the rendered Flux install lacks (image automation
  objects without the image controllers): the apply of its Kustomization fails as a whole.
- ``alert-receives-nothing``: an Alert whose event sources cannot match (notification-controller
  drops events from other namespaces under ``--no-cross-namespace-refs``) or match no object.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from typing import Any

from fluxfleet.check.context import FLUX_NAMESPACE, ClusterContext
from fluxfleet.check.model import Severity, Violation
from fluxfleet.check.registry import cluster_rule
from fluxfleet.check.rules.flux_refs import HELM_GROUP, KS_GROUP
from fluxfleet.objects import K8sObject, ObjectKey
from fluxfleet.render.model import ClusterRender

RBAC = "rbac.authorization.k8s.io"
NOTIFICATION_GROUP = "notification.toolkit.fluxcd.io"
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "default", FLUX_NAMESPACE})
# Flux's install binds these two to cluster-admin (ClusterRoleBinding cluster-reconciler-flux-system),
# also when gotk-components.yaml is a placeholder and the binding is not in the render.
RECONCILER_ACCOUNTS = frozenset({"kustomize-controller", "helm-controller"})
FLUX_SYNC_KINDS = frozenset(
    {("kustomize.toolkit.fluxcd.io", "Kustomization"), ("source.toolkit.fluxcd.io", "GitRepository")}
)


def _spec(body: dict[str, Any]) -> dict[str, Any]:
    spec = body.get("spec")
    return spec if isinstance(spec, dict) else {}


def default_account(ctx: ClusterContext, controller: str) -> str | None:
    """``--default-service-account`` of a controller: rendered, or fluxfleet's tenant lockdown.

    fluxfleet patches the flag into the controllers of a fleet with teams; with a placeholder
    gotk-components.yaml the patched Deployments are not in the render, the flag still applies.
    """
    flag = ctx.controller_flag(controller, "--default-service-account")
    if flag:
        return flag
    if not ctx.controller_args and ctx.options.tenant_namespaces:
        return "default"
    return None


def _grants(ctx: ClusterContext, sa_ns: str, sa: str) -> tuple[bool, set[str]]:
    """(bound cluster-wide, namespaces with a RoleBinding) for one ServiceAccount."""
    if sa_ns == FLUX_NAMESPACE and sa in RECONCILER_ACCOUNTS:
        return True, set()
    groups = {"system:serviceaccounts", f"system:serviceaccounts:{sa_ns}"}
    cluster_wide = False
    namespaces: set[str] = set()
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        for binding in ctx.of_kind(kind, RBAC):
            for s in binding.body.get("subjects") or []:
                if not isinstance(s, dict):
                    continue
                named = (
                    s.get("kind") == "ServiceAccount"
                    and s.get("name") == sa
                    and (s.get("namespace") or binding.key.namespace) == sa_ns
                )
                if named or (s.get("kind") == "Group" and s.get("name") in groups):
                    if kind == "ClusterRoleBinding":
                        cluster_wide = True
                    else:
                        namespaces.add(binding.key.namespace)
    return cluster_wide, namespaces


def _account_problem(
    ctx: ClusterContext, who: str, ns: str, account: str, applied: list[K8sObject], release_ns: str | None
) -> str | None:
    builtin = account == "default" or (ns == FLUX_NAMESPACE and account in RECONCILER_ACCOUNTS)
    if not builtin and not ctx.exists("", "ServiceAccount", ns, account):
        return f"{who} impersonates {ns}:{account}, which the render does not create"
    cluster_wide, namespaces = _grants(ctx, ns, account)
    if cluster_wide:
        return None
    if not namespaces:
        return f"{who} impersonates {ns}:{account}, which nothing binds to any rights: the apply would be forbidden"
    needed = {o.key.namespace for o in applied if o.key.namespace}
    if release_ns:
        needed.add(release_ns)
    missing = sorted(needed - namespaces)
    if missing:
        return f"{who} impersonates {ns}:{account}, which has no RoleBinding in {', '.join(missing)}"
    scoped = [o for o in applied if ctx.is_namespaced(o) is False]
    if scoped:
        return (
            f"{who} impersonates {ns}:{account}, which may not write cluster-scoped objects "
            f"such as {scoped[0].key} (no ClusterRoleBinding)"
        )
    return None


@cluster_rule(
    "flux-impersonation-unbound",
    Severity.high,
    hint="bind the account (RoleBinding in each namespace it applies to, ClusterRoleBinding for "
    "cluster-scoped objects), or set spec.serviceAccountName to an account that is",
    doc="a Kustomization/HelmRelease would impersonate a ServiceAccount the render does not bind to enough rights",
    category="reconcile",
)
def flux_impersonation_unbound(ctx: ClusterContext) -> Iterator[Violation]:
    for ks in ctx.render.kustomizations:
        if ks.kind != "Kustomization":
            continue
        # The applied object wins over the spec found by the walk (flux-system's own is patched by
        # the kustomization.yaml beside gotk-sync.yaml, as the tenant lockdown does).
        applied_as = ctx.find(KS_GROUP, "Kustomization", ks.namespace, ks.name)
        spec = _spec(applied_as[0].body) if applied_as else ks.spec
        account = spec.get("serviceAccountName") or default_account(ctx, "kustomize-controller")
        if not account:
            continue  # runs as kustomize-controller itself
        problem = _account_problem(
            ctx, f"Kustomization {ks.id}", ks.namespace, str(account), list(ks.objects), None
        )
        if problem:
            yield Violation(problem, file=ks.file, line=ks.line, kustomization=ks.parent)
    rendered = {(hr.namespace, hr.name): hr for hr in ctx.render.helmreleases}
    for obj in ctx.of_kind("HelmRelease", HELM_GROUP):
        spec = _spec(obj.body)
        account = spec.get("serviceAccountName") or default_account(ctx, "helm-controller")
        if not account:
            continue
        info = rendered.get((obj.key.namespace, obj.key.name))
        applied = list(info.objects) if info is not None else []
        release_ns = str(spec.get("targetNamespace") or obj.key.namespace)
        problem = _account_problem(ctx, str(obj.key), obj.key.namespace, str(account), applied, release_ns)
        if problem:
            yield Violation(problem, obj)


@cluster_rule(
    "prune-system-namespace",
    Severity.critical,
    hint="remove the Namespace from the repository (the cluster owns it), or set prune: false on that Kustomization",
    doc="a pruned Kustomization applies a namespace the cluster owns (kube-system, default, flux-system...)",
    category="reconcile",
)
def prune_system_namespace(ctx: ClusterContext) -> Iterator[Violation]:
    for ks in ctx.render.kustomizations:
        if ks.spec.get("prune") is not True:
            continue
        for obj in ks.objects:
            if obj.key.group or obj.key.kind != "Namespace" or obj.key.name not in SYSTEM_NAMESPACES:
                continue
            if obj.key.name == FLUX_NAMESPACE and ks.id == f"{FLUX_NAMESPACE}/{FLUX_NAMESPACE}":
                continue  # what `flux bootstrap` does: the sync owns Flux's own namespace
            yield Violation(
                f"{ks.id} prunes and owns the system namespace {obj.key.name!r}: removing the object "
                "from the repository would delete the namespace and everything in it",
                obj,
            )


def flux_own_objects(render: ClusterRender) -> dict[ObjectKey, K8sObject]:
    """Flux's controllers, CRDs, namespace and sync objects in a render."""
    out: dict[ObjectKey, K8sObject] = {}
    for obj in render.objects:
        k = obj.key
        own = (
            (k.kind == "CustomResourceDefinition" and k.name.endswith(".toolkit.fluxcd.io"))
            or (
                k.group == "apps"
                and k.kind == "Deployment"
                and k.namespace == FLUX_NAMESPACE
                and k.name.endswith("-controller")
            )
            or (not k.group and k.kind == "Namespace" and k.name == FLUX_NAMESPACE)
            or (
                (k.group, k.kind) in FLUX_SYNC_KINDS
                and k.namespace == FLUX_NAMESPACE
                and k.name == FLUX_NAMESPACE
            )
        )
        if own:
            out[k] = obj
    return out


@cluster_rule(
    "flux-self-removal",
    Severity.critical,
    hint="put Flux's controllers back (gotk-components.yaml: `fluxfleet generate --flux-components`, or "
    "spec.flux.components in fleet.yaml) before merging; the flux-system Kustomization prunes",
    doc="compared with the base revision, the change removes Flux's own controllers, CRDs or flux-system sync objects",
    category="reconcile",
)
def flux_self_removal(ctx: ClusterContext) -> Iterator[Violation]:
    base = ctx.options.baseline.get(ctx.cluster) if ctx.options.baseline else None
    if base is None:
        return
    before = flux_own_objects(base)
    after = flux_own_objects(ctx.render)
    gone = sorted((k for k in before if k not in after), key=str)
    if gone:
        shown = ", ".join(str(k) for k in gone[:5]) + (f" (+{len(gone) - 5} more)" if len(gone) > 5 else "")
        first = before[gone[0]]
        yield Violation(
            f"this change removes {len(gone)} of Flux's own objects from the cluster, which the flux-system "
            f"Kustomization would prune: {shown}",
            file=first.source.file,
            line=first.source.line,
            kustomization=first.source.kustomization,
        )


FLUX_GROUP_SUFFIX = ".toolkit.fluxcd.io"
IMAGE_GROUP = "image.toolkit.fluxcd.io"


@cluster_rule(
    "flux-crd-missing",
    Severity.high,
    hint="install the controller that serves it (image automation: `flux install "
    "--components-extra=image-reflector-controller,image-automation-controller --export`), "
    "or remove the object",
    doc="the render installs Flux's CRDs but not the one a Flux object needs: the whole apply fails",
    category="reconcile",
)
def flux_crd_missing(ctx: ClusterContext) -> Iterator[Violation]:
    installed = {gk for gk in ctx.crds if gk[0].endswith(FLUX_GROUP_SUFFIX)}
    if not installed:
        return  # placeholder gotk-components.yaml: what the cluster serves is unknown
    for obj in ctx.render.objects:
        gk = (obj.key.group, obj.key.kind)
        if obj.key.group.endswith(FLUX_GROUP_SUFFIX) and gk not in installed:
            yield Violation(
                f"{obj.key.kind} ({obj.key.group}) has no CustomResourceDefinition in this cluster's "
                "gotk-components.yaml: the server-side apply of its Kustomization fails, and with it "
                "everything else that Kustomization applies",
                obj,
            )


def _matches(obj: K8sObject, source: dict[str, Any]) -> bool:
    name = str(source.get("name") or "")
    if name != "*" and not fnmatch.fnmatchcase(obj.key.name, name):
        return False
    labels = source.get("matchLabels")
    if isinstance(labels, dict) and labels:
        mine = (obj.body.get("metadata") or {}).get("labels") or {}
        return isinstance(mine, dict) and all(mine.get(k) == v for k, v in labels.items())
    return True


@cluster_rule(
    "alert-receives-nothing",
    Severity.medium,
    hint="put the Alert (with its Provider) in the namespace of the objects it watches, "
    "or list event sources that exist",
    doc="an Alert whose event sources cannot deliver any event (other namespaces under the tenant lockdown, "
    "or no such object)",
    category="reconcile",
)
def alert_receives_nothing(ctx: ClusterContext) -> Iterator[Violation]:
    locked = ctx.no_cross_namespace_refs or bool(ctx.options.tenant_namespaces and not ctx.controller_args)
    for alert in ctx.of_kind("Alert", NOTIFICATION_GROUP):
        ns = alert.key.namespace
        sources = [s for s in _spec(alert.body).get("eventSources") or [] if isinstance(s, dict)]
        reasons: list[str] = []
        live = 0
        for source in sources:
            src_ns = str(source.get("namespace") or ns)
            kind = str(source.get("kind") or "")
            if locked and src_ns != ns:
                reasons.append(f"{kind} in {src_ns} (cross-namespace events are dropped)")
                continue
            candidates = [o for o in ctx.of_kind(kind) if o.key.namespace == src_ns]
            if any(_matches(o, source) for o in candidates):
                live += 1
            else:
                reasons.append(f"{kind}/{source.get('name')} in {src_ns} (no such object)")
        if not live:
            detail = "; ".join(reasons) if reasons else "no event sources"
            yield Violation(f"{alert.key} can receive no event: {detail}", alert)
        provider = (_spec(alert.body).get("providerRef") or {}).get("name")
        if provider and not ctx.exists(NOTIFICATION_GROUP, "Provider", ns, str(provider)):
            yield Violation(
                f"{alert.key} sends to Provider {ns}/{provider}, which the render does not create", alert
            )
