"""The Flux objects of one cluster as plain dicts (pure; current APIs only).

``source.toolkit.fluxcd.io/v1`` GitRepository and ``kustomize.toolkit.fluxcd.io/v1`` Kustomization:
the v1beta* versions were removed in Flux 2.7/2.8 and are never written.
"""

from __future__ import annotations

from typing import Any

from fluxfleet.fleet.load import Fleet
from fluxfleet.fleet.model import App, Cluster, Component, Environment
from fluxfleet.fleet.names import go_duration
from fluxfleet.generate.layout import (
    FLUX_NAMESPACE,
    SYSTEM_NAMESPACES,
    app_ks_name,
    cluster_variables,
    platform_ks_name,
)
from fluxfleet.generate.tenants import kustomization_service_account

GIT_API = "source.toolkit.fluxcd.io/v1"
KS_API = "kustomize.toolkit.fluxcd.io/v1"
SOURCE_REF = {"kind": "GitRepository", "name": "flux-system"}


def _sorted(obj: Any) -> Any:
    """Keys sorted recursively, as sigs.k8s.io/yaml marshals (the shape `flux bootstrap` writes)."""
    if isinstance(obj, dict):
        return {k: _sorted(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list):
        return [_sorted(v) for v in obj]
    return obj


def gotk_sync(fleet: Fleet, cluster_dir: str) -> list[dict[str, Any]]:
    """GitRepository + Kustomization ``flux-system``, exactly as ``flux bootstrap`` lays them out."""
    src = fleet.source
    git_spec: dict[str, Any] = {
        "interval": go_duration(src.interval),
        "ref": {"branch": src.branch},
        "url": src.url,
    }
    if src.secret_ref:
        git_spec["secretRef"] = {"name": src.secret_ref}
    repo = {
        "apiVersion": GIT_API,
        "kind": "GitRepository",
        "metadata": {"name": "flux-system", "namespace": FLUX_NAMESPACE},
        "spec": git_spec,
    }
    ks = {
        "apiVersion": KS_API,
        "kind": "Kustomization",
        "metadata": {"name": "flux-system", "namespace": FLUX_NAMESPACE},
        "spec": {
            "interval": "10m0s",
            "path": f"./{cluster_dir}",
            "prune": True,
            "sourceRef": dict(SOURCE_REF),
        },
    }
    return [_sorted(repo), _sorted(ks)]


def _common_spec(
    fleet: Fleet, env: Environment, variables: dict[str, str], path: str, interval: str | None, namespace: str
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "interval": interval or env.interval,
        "path": f"./{path}",
        "prune": env.prune,
        "sourceRef": dict(SOURCE_REF),
        "targetNamespace": namespace,
    }
    if env.timeout:
        spec["timeout"] = env.timeout
    if fleet.secrets.age_recipients.get(env.name):
        spec["decryption"] = {"provider": "sops", "secretRef": {"name": "sops-age"}}
    spec["postBuild"] = {"substitute": variables}
    return spec


def _kustomization(name: str, spec: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": KS_API,
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": FLUX_NAMESPACE, "labels": labels},
        "spec": spec,
    }


def platform_kustomization(
    fleet: Fleet,
    cluster: Cluster,
    component: Component,
    placed_here: set[str],
    variables: dict[str, str] | None = None,
) -> dict[str, Any]:
    env = fleet.env(cluster.environment)
    variables = variables if variables is not None else cluster_variables(cluster)
    spec = _common_spec(fleet, env, variables, component.repo_path, component.interval, component.namespace)
    deps = [{"name": platform_ks_name(d)} for d in component.depends_on if d in placed_here]
    if deps:
        spec["dependsOn"] = deps
    spec["wait"] = component.wait
    account = kustomization_service_account(fleet, component)
    if account:
        spec["serviceAccountName"] = account
    labels = {"fluxfleet.dev/layer": "platform", "fluxfleet.dev/component": component.name}
    return _kustomization(platform_ks_name(component.name), _ordered(spec), labels)


def app_kustomization(
    fleet: Fleet,
    cluster: Cluster,
    app: App,
    components_here: list[str],
    apps_here: set[str],
    variables: dict[str, str] | None = None,
) -> dict[str, Any]:
    env = fleet.env(cluster.environment)
    variables = variables if variables is not None else cluster_variables(cluster)
    spec = _common_spec(
        fleet, env, variables, f"{app.repo_path}/overlays/{env.name}", app.interval, app.namespace
    )
    deps = [platform_ks_name(c) for c in components_here]
    for dep in app.depends_on:
        if dep in apps_here:
            deps.append(app_ks_name(dep))
    spec["dependsOn"] = [{"name": d} for d in dict.fromkeys(deps)]
    if not spec["dependsOn"]:
        del spec["dependsOn"]
    pin = app.pins.get(cluster.name)
    if pin and app.image:
        spec["images"] = [{"name": app.image, "newTag": pin}]
    account = kustomization_service_account(fleet, app)
    if account:
        spec["serviceAccountName"] = account
    _app_health(spec, app, env)
    labels = {"fluxfleet.dev/layer": "apps", "fluxfleet.dev/app": app.name}
    if app.team:
        labels["fluxfleet.dev/team"] = app.team
    return _kustomization(app_ks_name(app.name), _ordered(spec), labels)


APP_TIMEOUT = "5m"


def _app_health(spec: dict[str, Any], app: App, env: Environment) -> None:
    """Without ``wait``/``healthChecks`` kustomize-controller marks an app Ready as soon as it is
    applied, so a ``dependsOn`` on it is met before its pods run; the timeout bounds the wait."""
    if app.health_checks:
        spec["healthChecks"] = [
            {k: v for k, v in hc.model_dump(by_alias=True).items() if v is not None}
            for hc in app.health_checks
        ]
    else:
        spec["wait"] = app.wait
    spec["timeout"] = app.timeout or env.timeout or APP_TIMEOUT


def app_namespaces(fleet: Fleet, apps: list[App]) -> list[dict[str, Any]]:
    """Target namespaces of team-less apps, created by the cluster root before any app Kustomization.

    A declared team's namespaces come with its tenant objects (generate/tenants.py) instead.
    """
    taken = {c.namespace for c in fleet.platform} | SYSTEM_NAMESPACES
    namespaces = sorted(
        {a.namespace for a in apps if not (a.team and fleet.team(a.team)) and a.namespace not in taken}
    )
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"fluxfleet.dev/layer": "apps"}},
        }
        for ns in namespaces
    ]


_ORDER = [
    "interval",
    "timeout",
    "retryInterval",
    "dependsOn",
    "serviceAccountName",
    "sourceRef",
    "path",
    "prune",
    "wait",
    "healthChecks",
    "targetNamespace",
    "images",
    "decryption",
    "postBuild",
]


def _ordered(spec: dict[str, Any]) -> dict[str, Any]:
    """A stable, readable key order (what a person would write), independent of build order."""
    return {k: spec[k] for k in sorted(spec, key=lambda k: (_ORDER.index(k) if k in _ORDER else 99, k))}
