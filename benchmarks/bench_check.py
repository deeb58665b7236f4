"""Check throughput: objects per second with every built-in rule on, and the schema-validation share.

A synthetic fleet (many clusters, each with workloads, services, config, RBAC, tenants and Flux
objects) is checked twice with one schema store: the first run includes compiling each schema
once, the second is the steady state of a long run. Rego throughput is measured separately with a
small conftest policy, since it depends on the user's policies.
"""

from __future__ import annotations

import copy
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from fluxfleet.check.context import CheckOptions
from fluxfleet.check.engine import run_checks
from fluxfleet.check.rego import RegoPolicies, load_conftest
from fluxfleet.check.schemas import SchemaStore
from fluxfleet.objects import K8sObject, Provenance
from fluxfleet.render.model import ClusterRender, KsStatus, KustomizationRender

CLUSTERS = 40
APPS_PER_CLUSTER = 60


def _deployment(name: str, ns: str, i: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "automountServiceAccountToken": False,
                    "containers": [
                        {
                            "name": name,
                            "image": f"ghcr.io/acme/{name}:1.{i}.0"
                            if i % 7
                            else f"ghcr.io/acme/{name}:latest",
                            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                            "env": [
                                {"name": "LOG_LEVEL", "value": "info"},
                                {"name": "REGION", "value": "eu"},
                            ],
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


def _app_objects(name: str, ns: str, i: int) -> list[dict[str, Any]]:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]},
    }
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{name}-config", "namespace": ns}}
    cm["data"] = {"config.yaml": "a: 1\nb: 2\n", "LOG_FORMAT": "json"}
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}}
    return [_deployment(name, ns, i), svc, cm, sa]


def _tenant(ns: str) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"toolkit.fluxcd.io/tenant": ns}},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny", "namespace": ns},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "quota", "namespace": ns},
            "spec": {"hard": {"requests.cpu": "4", "limits.memory": "8Gi"}},
        },
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": {"name": "limits", "namespace": ns},
            "spec": {"limits": [{"type": "Container", "default": {"memory": "128Mi"}}]},
        },
    ]


def _flux(name: str, deps: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {
            "interval": "10m",
            "prune": True,
            "path": f"./apps/{name}",
            "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
            "dependsOn": [{"name": d} for d in deps],
            "postBuild": {"substitute": {"CLUSTER": "c"}},
        },
    }


def synthetic_fleet() -> list[ClusterRender]:
    renders = []
    for c in range(CLUSTERS):
        ks_list = []
        root_objs = [
            {
                "apiVersion": "source.toolkit.fluxcd.io/v1",
                "kind": "GitRepository",
                "metadata": {"name": "flux-system", "namespace": "flux-system"},
                "spec": {"url": "https://example.com/fleet.git", "interval": "1m"},
            }
        ]
        for team in range(3):
            ns = f"team-{team}"
            root_objs.extend(_tenant(ns))
        app_ks = []
        for a in range(APPS_PER_CLUSTER):
            name = f"app{a}"
            ns = f"team-{a % 3}"
            root_objs.append(_flux(name, [f"app{a - 1}"] if a else []))
            objs = _app_objects(name, ns, a)
            app_ks.append(
                KustomizationRender(
                    name=name,
                    namespace="flux-system",
                    spec=copy.deepcopy(root_objs[-1]["spec"]),
                    status=KsStatus.rendered,
                    path=f"apps/{name}",
                    source="GitRepository/flux-system/flux-system",
                    parent="flux-system/flux-system",
                    objects=tuple(
                        K8sObject.of(
                            o, Provenance(f"apps/{name}/manifests.yaml", j * 20 + 1, f"flux-system/{name}")
                        )
                        for j, o in enumerate(objs)
                    ),
                )
            )
        root = KustomizationRender(
            name="flux-system",
            namespace="flux-system",
            spec={"path": f"./clusters/c{c}", "prune": True},
            status=KsStatus.rendered,
            path=f"clusters/c{c}",
            source="GitRepository/flux-system/flux-system",
            objects=tuple(
                K8sObject.of(o, Provenance(f"clusters/c{c}/all.yaml", None, "flux-system/flux-system"))
                for o in root_objs
            ),
        )
        ks_list = [root, *app_ks]
        renders.append(
            ClusterRender(f"c{c}", f"clusters/c{c}", {"environment": "prod", "region": "eu"}, tuple(ks_list))
        )
    return renders


POLICY = """package main

import rego.v1

deny_latest contains msg if {
  input.kind == "Deployment"
  some c in input.spec.template.spec.containers
  endswith(c.image, ":latest")
  msg := sprintf("%s uses latest", [input.metadata.name])
}
"""


def main() -> list[str]:
    renders = synthetic_fleet()
    objects = sum(len(r.objects) for r in renders)
    store = SchemaStore()
    options = CheckOptions(schemas=store, today=date(2026, 1, 1), path_exists=lambda p: True)
    cold = run_checks(renders, options)
    warm = run_checks(renders, options)
    s = warm.stats
    lines = [
        f"fleet: {CLUSTERS} clusters, {objects} objects, {len(warm.rules)} rules, {len(warm.findings)} findings",
        f"all rules, first run (compiles each schema once): {objects / cold.stats.total_seconds:,.0f} objects/s",
        f"all rules, steady state: {objects / s.total_seconds:,.0f} objects/s (one core)",
        f"schema validation share: {s.schema_seconds / s.total_seconds:.0%} of check time "
        f"({objects / s.schema_seconds:,.0f} objects/s for schemas alone)",
    ]
    top = sorted(s.rule_seconds.items(), key=lambda kv: -kv[1])[:3]
    lines.append("slowest rules: " + ", ".join(f"{k} {v / s.total_seconds:.0%}" for k, v in top))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "policy").mkdir()
        (Path(tmp) / "policy" / "main.rego").write_text(POLICY)
        conftest = load_conftest(Path(tmp), ("policy",))
    sample = renders[:2]
    n = sum(len(r.objects) for r in sample)
    start = time.perf_counter()
    run_checks(sample, CheckOptions(schemas=store, rego=RegoPolicies(conftest)), only=["rego-policy"])
    elapsed = time.perf_counter() - start
    lines.append(
        f"conftest Rego (1 policy, {conftest.policy.__class__.__name__} via regopy): {n / elapsed:,.0f} objects/s"
    )
    return lines


if __name__ == "__main__":
    for line in main():
        print(line)
