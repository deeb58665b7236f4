"""Build ClusterRender values from YAML for rule tests (the render contract, filled by hand)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fluxfleet import yamlio
from fluxfleet.check.context import CheckOptions
from fluxfleet.check.engine import run_checks
from fluxfleet.check.model import CheckResult, Finding
from fluxfleet.check.schemas import SchemaStore
from fluxfleet.fleet.policy import PolicyConfig, parse_policy
from fluxfleet.objects import K8sObject, Provenance
from fluxfleet.render.model import ClusterRender, KsStatus, KustomizationRender

_STORE: dict[str | None, SchemaStore] = {}


def store(version: str | None = None) -> SchemaStore:
    if version not in _STORE:
        _STORE[version] = SchemaStore(version)
    return _STORE[version]


def objects(
    text: str, *, file: str = "apps/demo/manifests.yaml", ks: str = "flux-system/apps"
) -> list[K8sObject]:
    return [
        K8sObject.of(doc, Provenance(file=file, line=i * 10 + 1, kustomization=ks))
        for i, doc in enumerate(yamlio.load_all(text))
    ]


def ks(
    text: str,
    *,
    name: str = "apps",
    namespace: str = "flux-system",
    spec: dict[str, Any] | None = None,
    path: str | None = "apps/demo",
    status: KsStatus = KsStatus.rendered,
    file: str | None = None,
) -> KustomizationRender:
    ks_id = f"{namespace}/{name}"
    return KustomizationRender(
        name=name,
        namespace=namespace,
        spec=spec or {"path": f"./{path}" if path else None, "prune": True},
        status=status,
        path=path,
        objects=tuple(objects(text, file=file or f"{path or 'x'}/manifests.yaml", ks=ks_id)),
    )


def cluster(
    *kustomizations: KustomizationRender | str, name: str = "dev-eu-1", labels: dict[str, str] | None = None
) -> ClusterRender:
    items = tuple(k if isinstance(k, KustomizationRender) else ks(k) for k in kustomizations)
    return ClusterRender(
        cluster=name,
        path="clusters/dev/eu",
        labels=labels if labels is not None else {"environment": "dev", "region": "eu"},
        kustomizations=items,
    )


def run(
    render: ClusterRender,
    rules: list[str] | None = None,
    *,
    policy: dict[str, Any] | PolicyConfig | None = None,
    today: date = date(2026, 6, 1),
    **options: Any,
) -> CheckResult:
    pol = policy if isinstance(policy, PolicyConfig) else parse_policy(policy, "fleet.yaml")
    opts = CheckOptions(policy=pol, today=today, schemas=store(pol.kubernetes_version), **options)
    return run_checks([render], opts, only=rules)


def findings(render: ClusterRender, rule: str, **kw: Any) -> list[Finding]:
    return [f for f in run(render, [rule], **kw).findings if f.rule == rule]


def hardened_deployment(name: str = "web", namespace: str = "shop") -> dict[str, Any]:
    """A Deployment every workload rule accepts (tests derive failing variants from it)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [
                        {
                            "name": name,
                            "image": "ghcr.io/acme/web:1.2.3",
                            "env": [{"name": "LOG_LEVEL", "value": "info"}],
                            "ports": [{"containerPort": 8080}],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "64Mi"},
                                "limits": {"memory": "128Mi"},
                            },
                            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
                            "livenessProbe": {"httpGet": {"path": "/live", "port": 8080}},
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                },
            },
        },
    }


def dump(*bodies: dict[str, Any]) -> str:
    return yamlio.dump_all(list(bodies))
