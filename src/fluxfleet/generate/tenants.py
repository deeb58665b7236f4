"""Per-team tenant objects on each cluster, and the flux-system lockdown of a multi-tenant fleet.

For every cluster where a team has apps, ``<cluster>/tenants/<team>.yaml`` holds, per namespace of
those apps: the Namespace (tenant label, Pod Security level), a Role with explicit namespaced
rules and a RoleBinding of it to the team's reconcile ServiceAccount, a ResourceQuota and
LimitRange from the team's limits, and a default-deny NetworkPolicy plus the allow rules the fleet
declares. The ServiceAccount itself lives in ``flux-system``: the team's Kustomizations are
``flux-system`` objects (they share the cluster's GitRepository without a cross-namespace reference),
and Flux impersonates an account of the Kustomization's own namespace. It has no binding there, so it
can only act in the team's namespaces.

The lockdown mirrors fluxcd/flux2-multi-tenancy: no cross-namespace references, no remote bases,
and ``default`` as the service account of any Kustomization or HelmRelease that names none.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fluxfleet import yamlio
from fluxfleet.errors import FleetError
from fluxfleet.fleet.load import Fleet
from fluxfleet.fleet.model import App, Cluster, Component
from fluxfleet.fleet.placement import Placement
from fluxfleet.fleet.tenancy import Team
from fluxfleet.generate.layout import FLUX_NAMESPACE, SYSTEM_NAMESPACES, cluster_dirs

TENANTS_DIR = "tenants"
TENANT_LABEL = "toolkit.fluxcd.io/tenant"
CONTROLLER_SA = "kustomize-controller"
KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"

# What a reconciler needs to apply, garbage-collect and health-check a team's workloads. No
# wildcards, no pods/exec, no RBAC or NetworkPolicy writes (a tenant must not widen its own fence).
RECONCILE_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]
RECONCILE_RULES: list[tuple[str, list[str]]] = [
    ("", ["configmaps", "persistentvolumeclaims", "secrets", "serviceaccounts", "services"]),
    ("apps", ["deployments", "statefulsets"]),
    ("autoscaling", ["horizontalpodautoscalers"]),
    ("batch", ["cronjobs", "jobs"]),
    ("policy", ["poddisruptionbudgets"]),
    ("networking.k8s.io", ["ingresses"]),
    ("external-secrets.io", ["externalsecrets"]),
    ("bitnami.com", ["sealedsecrets"]),
]

RBAC_RULE = "rbac-least-privilege"
SECRETS_REASON = (
    "the Flux reconciler of this team must read the Secrets it applies, prunes and health-checks "
    "(server-side apply reads the live object); no person is bound to this Role"
)

_CONTROLLERS_NO_CROSS_NS = (
    "(kustomize-controller|helm-controller|notification-controller|"
    "image-reflector-controller|image-automation-controller)"
)


def _reconciler(team: str) -> str:
    return f"{team}-reconciler"


def _namespace_doc(team: Team, ns: str) -> dict[str, Any]:
    level = team.guardrails.pod_security
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": ns,
            "labels": {
                TENANT_LABEL: team.name,
                "pod-security.kubernetes.io/enforce": level,
                "pod-security.kubernetes.io/audit": level,
                "pod-security.kubernetes.io/warn": level,
            },
        },
    }


def _meta(name: str, ns: str, team: str) -> dict[str, Any]:
    return {"name": name, "namespace": ns, "labels": {TENANT_LABEL: team}}


def _rbac_docs(team: Team, ns: str) -> list[dict[str, Any]]:
    name = _reconciler(team.name)
    role_meta = _meta(name, ns, team.name)
    # Declared, not hidden: `fluxfleet check` shows this as a suppressed finding with its reason.
    role_meta["annotations"] = {f"exception.fluxfleet.dev/{RBAC_RULE}": SECRETS_REASON}
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": role_meta,
        "rules": [
            {"apiGroups": [group], "resources": list(resources), "verbs": list(RECONCILE_VERBS)}
            for group, resources in RECONCILE_RULES
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(name, ns, team.name),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": team.name, "namespace": FLUX_NAMESPACE}],
    }
    return [role, binding]


def _quota_docs(team: Team, ns: str) -> list[dict[str, Any]]:
    lim = team.limits
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": _meta(f"{team.name}-quota", ns, team.name),
        "spec": {
            "hard": {
                "limits.cpu": lim.cpu,
                "limits.memory": lim.memory,
                "pods": str(lim.pods),
                "requests.cpu": lim.cpu,
                "requests.memory": lim.memory,
            }
        },
    }
    # Without container defaults every pod lacking explicit resources would be refused by the quota.
    limit_range = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": _meta(f"{team.name}-limits", ns, team.name),
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "default": {"cpu": lim.default_limit.cpu, "memory": lim.default_limit.memory},
                    "defaultRequest": {"cpu": lim.default_request.cpu, "memory": lim.default_request.memory},
                }
            ]
        },
    }
    return [quota, limit_range]


def _netpol(name: str, ns: str, team: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(name, ns, team),
        "spec": spec,
    }


def _ns_selector(ns: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}


def _network_docs(team: Team, ns: str) -> list[dict[str, Any]]:
    g = team.guardrails
    docs = [_netpol("default-deny", ns, team.name, {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})]
    if g.allow_dns:
        docs.append(
            _netpol(
                "allow-dns",
                ns,
                team.name,
                {
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [
                        {
                            "to": [
                                {
                                    **_ns_selector("kube-system"),
                                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                                }
                            ],
                            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                        }
                    ],
                },
            )
        )
    if g.allow_same_namespace:
        docs.append(
            _netpol(
                "allow-same-namespace",
                ns,
                team.name,
                {
                    "podSelector": {},
                    "policyTypes": ["Ingress", "Egress"],
                    "ingress": [{"from": [{"podSelector": {}}]}],
                    "egress": [{"to": [{"podSelector": {}}]}],
                },
            )
        )
    if team.allow_ingress_from:
        docs.append(
            _netpol(
                "allow-ingress",
                ns,
                team.name,
                {
                    "podSelector": {},
                    "policyTypes": ["Ingress"],
                    "ingress": [{"from": [_ns_selector(n) for n in team.allow_ingress_from]}],
                },
            )
        )
    if team.allow_egress_to:
        peers = [
            {"ipBlock": {"cidr": item}} if "/" in item else _ns_selector(item)
            for item in team.allow_egress_to
        ]
        docs.append(
            _netpol(
                "allow-egress",
                ns,
                team.name,
                {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": peers}]},
            )
        )
    return docs


def team_documents(team: Team, namespaces: list[str]) -> list[dict[str, Any]]:
    """Every object of one team on one cluster (its namespaces there), in apply-friendly order."""
    docs: list[dict[str, Any]] = [_namespace_doc(team, ns) for ns in namespaces]
    docs.append(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(team.name, FLUX_NAMESPACE, team.name),
        }
    )
    for ns in namespaces:
        docs.extend(_rbac_docs(team, ns))
        if team.guardrails.resource_quota:
            docs.extend(_quota_docs(team, ns))
        if team.guardrails.network_policy:
            docs.extend(_network_docs(team, ns))
    return docs


def team_namespaces(fleet: Fleet, placement: Placement, cluster: Cluster) -> dict[str, list[str]]:
    """``team -> namespaces`` of its apps on ``cluster``; refuses namespaces two owners would share."""
    owners: dict[str, set[str]] = defaultdict(set)  # namespace -> "team:x" / "app:y" / "component:z"
    by_team: dict[str, set[str]] = defaultdict(set)
    for workload in placement.on(cluster.name):
        if isinstance(workload, App) and workload.team and fleet.team(workload.team):
            owners[workload.namespace].add(f"team {workload.team}")
            by_team[workload.team].add(workload.namespace)
        elif isinstance(workload, Component):
            owners[workload.namespace].add(f"platform component {workload.name}")
        else:
            owners[workload.namespace].add(f"app {workload.name} (no team)")
    for team, namespaces in by_team.items():
        for ns in sorted(namespaces):
            origin = fleet.origins.get(f"teams/{team}")
            if ns in SYSTEM_NAMESPACES:
                raise FleetError(
                    f"team {team!r} has an app in the system namespace {ns!r} on cluster {cluster.name!r}",
                    file=origin.file if origin else None,
                    field="spec.apps.namespace",
                    hint="give the team's apps their own namespace",
                )
            if len(owners[ns]) > 1:
                raise FleetError(
                    f"namespace {ns!r} on cluster {cluster.name!r} is shared by "
                    + " and ".join(sorted(owners[ns])),
                    file=origin.file if origin else None,
                    field="spec.apps.namespace",
                    hint="a tenant namespace belongs to one team only; move the other workload",
                )
    return {t.name: sorted(by_team[t.name]) for t in fleet.teams if by_team.get(t.name)}


def _kustomization(resources: list[str]) -> str:
    return yamlio.dump({"apiVersion": KUSTOMIZE_API, "kind": "Kustomization", "resources": resources})


def plan_tenants(fleet: Fleet, placement: Placement) -> dict[str, str]:
    """``<cluster folder>/tenants/{kustomization.yaml,<team>.yaml}`` for clusters with team apps.

    Content comes without the generated-file header (the generator adds it).
    """
    if not fleet.teams:
        return {}
    dirs = cluster_dirs(fleet)
    out: dict[str, str] = {}
    for cluster in fleet.clusters:
        teams = team_namespaces(fleet, placement, cluster)
        if not teams:
            continue
        folder = f"{dirs[cluster.name]}/{TENANTS_DIR}"
        for team_name, namespaces in teams.items():
            team = fleet.team(team_name)
            assert team is not None  # team_namespaces only returns declared teams
            out[f"{folder}/{team_name}.yaml"] = yamlio.dump_all(team_documents(team, namespaces))
        out[f"{folder}/kustomization.yaml"] = _kustomization([f"{t}.yaml" for t in teams])
    return out


def cluster_resources(fleet: Fleet, placement: Placement) -> dict[str, list[str]]:
    """``cluster -> ["tenants"]``: folders the cluster's kustomization.yaml must also include."""
    if not fleet.teams:
        return {}
    return {c.name: [TENANTS_DIR] for c in fleet.clusters if team_namespaces(fleet, placement, c)}


def lockdown_enabled(fleet: Fleet) -> bool:
    """A fleet with teams is multi-tenant: every cluster's Flux runs locked down."""
    return bool(fleet.teams)


def _args_patch(arg: str, deployments: str) -> dict[str, Any]:
    op = [{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": arg}]
    return {"patch": yamlio.dump(op), "target": {"kind": "Deployment", "name": deployments}}


def flux_system_patches(fleet: Fleet) -> list[dict[str, Any]]:
    """kustomize ``patches:`` for ``clusters/…/flux-system/kustomization.yaml`` (lockdown), or []."""
    if not lockdown_enabled(fleet):
        return []
    sa_op = [{"op": "add", "path": "/spec/serviceAccountName", "value": CONTROLLER_SA}]
    return [
        _args_patch("--no-cross-namespace-refs=true", _CONTROLLERS_NO_CROSS_NS),
        _args_patch("--no-remote-bases=true", "kustomize-controller"),
        _args_patch("--default-service-account=default", "(kustomize-controller|helm-controller)"),
        {"patch": yamlio.dump(sa_op), "target": {"kind": "Kustomization", "name": "flux-system"}},
    ]


def kustomization_service_account(fleet: Fleet, workload: App | Component) -> str | None:
    """``spec.serviceAccountName`` for a generated Kustomization, or None (no lockdown).

    Under the lockdown a Kustomization without one runs as the powerless ``default`` account, so
    platform layers and team-less apps run as the controller; a team's apps impersonate the team
    (unless the team switched the ``impersonation`` guardrail off).
    """
    if not lockdown_enabled(fleet):
        return None
    if isinstance(workload, App) and workload.team:
        team = fleet.team(workload.team)
        if team is not None and team.guardrails.impersonation:
            return team.name
    return CONTROLLER_SA
