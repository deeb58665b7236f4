"""Starting points written once where missing: app bases and overlays, platform skeletons.

They carry a note instead of the generated-file header: from the first write on they are the
user's. The app Deployment is hardened so a new fleet passes ``fluxfleet check`` as generated.
"""

from __future__ import annotations

from typing import Any

from fluxfleet import yamlio
from fluxfleet.fleet.load import Fleet
from fluxfleet.fleet.model import App, Component
from fluxfleet.generate.layout import SCAFFOLD_NOTE

KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"


def _doc(*docs: dict[str, Any]) -> str:
    body = yamlio.dump(docs[0]) if len(docs) == 1 else yamlio.dump_all(list(docs))
    return f"{SCAFFOLD_NOTE}\n{body}"


def _kustomization(resources: list[str], **extra: Any) -> dict[str, Any]:
    return {"apiVersion": KUSTOMIZE_API, "kind": "Kustomization", "resources": resources, **extra}


def base_tag(fleet: Fleet, app: App) -> str | None:
    """The tag written into the base: the version of the earliest environment that has one."""
    for env in fleet.env_names:
        if env in app.versions:
            return app.versions[env]
    return None


def app_base(fleet: Fleet, app: App) -> dict[str, str]:
    root = f"{app.repo_path}/base"
    labels = {"app.kubernetes.io/name": app.name, "app.kubernetes.io/part-of": fleet.name}
    image = app.image or f"ghcr.io/example/{app.name}"
    tag = base_tag(fleet, app)
    container: dict[str, Any] = {
        "name": app.name,
        "image": f"{image}:{tag}" if tag else image,
        "ports": [{"name": "http", "containerPort": app.port, "protocol": "TCP"}],
        "env": [
            {"name": "CLUSTER_NAME", "value": "${CLUSTER_NAME}"},
            {"name": "ENVIRONMENT", "value": "${ENVIRONMENT}"},
            {"name": "REGION", "value": "${REGION}"},
        ],
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 20},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": app.name, "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app.kubernetes.io/name": app.name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 10001,
                        "runAsGroup": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": app.name, "labels": labels},
        "spec": {
            "selector": {"app.kubernetes.io/name": app.name},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    return {
        f"{root}/kustomization.yaml": _doc(_kustomization(["deployment.yaml", "service.yaml"])),
        f"{root}/deployment.yaml": _doc(deployment),
        f"{root}/service.yaml": _doc(service),
    }


def app_overlay(app: App, env: str) -> dict[str, str]:
    extra: dict[str, Any] = {}
    version = app.versions.get(env)
    if version and app.image:
        extra["images"] = [{"name": app.image, "newTag": version}]
    path = f"{app.repo_path}/overlays/{env}/kustomization.yaml"
    return {path: _doc(_kustomization(["../../base"], **extra))}


PLATFORM_HELM_ACCOUNT = "flux-platform"


def platform_helm_account(component: Component) -> list[dict[str, Any]]:
    """The account a platform HelmRelease runs as.

    With the tenant lockdown helm-controller impersonates ``<namespace>:default`` for a HelmRelease
    that names no account, and ``default`` can do nothing: the install fails. A chart installs
    CRDs, ClusterRoles and webhooks, so the account gets what helm-controller itself has
    (cluster-admin); it is a platform account, never a tenant's.
    """
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": PLATFORM_HELM_ACCOUNT, "namespace": component.namespace},
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": f"{PLATFORM_HELM_ACCOUNT}-{component.name}"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [
            {"kind": "ServiceAccount", "name": PLATFORM_HELM_ACCOUNT, "namespace": component.namespace}
        ],
    }
    return [account, binding]


def platform_component(component: Component, *, owns_namespace: bool = True) -> dict[str, str]:
    """Skeleton of a platform component. ``owns_namespace`` is False when the namespace belongs to
    the cluster (kube-system, flux-system...) or to another Kustomization: a second owner would
    fight over it, and a pruned one would delete it with everything inside."""
    root = component.repo_path
    files: dict[str, str] = {}
    resources: list[str] = []
    if owns_namespace:
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": component.namespace}}
        files[f"{root}/namespace.yaml"] = _doc(namespace)
        resources.append("namespace.yaml")
    if component.chart:
        chart = component.chart
        repository = {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmRepository",
            "metadata": {"name": component.name},
            "spec": {"interval": "1h", "url": chart.repository},
        }
        release = {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": component.name},
            "spec": {
                "interval": "30m",
                "chart": {
                    "spec": {
                        "chart": chart.name,
                        "version": chart.version,
                        "sourceRef": {"kind": "HelmRepository", "name": component.name},
                        "interval": "12h",
                    }
                },
                "install": {"remediation": {"retries": 3}},
                "upgrade": {"remediation": {"retries": 3}},
                "serviceAccountName": PLATFORM_HELM_ACCOUNT,
            },
        }
        files[f"{root}/serviceaccount.yaml"] = _doc(*platform_helm_account(component))
        files[f"{root}/repository.yaml"] = _doc(repository)
        files[f"{root}/release.yaml"] = _doc(release)
        resources += ["serviceaccount.yaml", "repository.yaml", "release.yaml"]
    files[f"{root}/kustomization.yaml"] = _doc(_kustomization(resources))
    return files
