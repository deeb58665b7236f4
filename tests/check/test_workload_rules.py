"""Workload security rules: the hardened Deployment passes every rule; one change fails one rule."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from check.helpers import cluster, dump, findings, hardened_deployment, run
from fluxfleet.check.podspec import WORKLOAD_KINDS

WORKLOAD_RULES = [
    "image-tag-pinned",
    "resources-requests-limits",
    "privileged",
    "privilege-escalation",
    "run-as-non-root",
    "read-only-root-fs",
    "host-namespaces",
    "host-path-mounts",
    "host-ports",
    "capabilities",
    "seccomp-profile",
    "unsafe-kernel-settings",
    "probes",
    "sa-token-automount",
    "secrets-in-env",
    "selector-mismatch",
    "namespace-and-exposure",
]


def _c(d: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = d["spec"]["template"]["spec"]["containers"][0]
    return container


def _pod(d: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = d["spec"]["template"]["spec"]
    return pod


Mutation = Callable[[dict[str, Any]], None]
CASES: list[tuple[str, Mutation, str]] = [
    ("image-tag-pinned", lambda d: _c(d).update(image="ghcr.io/acme/web:latest"), "uses :latest"),
    ("image-tag-pinned", lambda d: _c(d).update(image="ghcr.io/acme/web"), "has no tag"),
    ("image-tag-pinned", lambda d: _c(d).update(image="localhost:5000/web"), "has no tag"),
    ("resources-requests-limits", lambda d: _c(d)["resources"].pop("limits"), "limits.memory"),
    ("resources-requests-limits", lambda d: _c(d).pop("resources"), "requests.cpu"),
    ("privileged", lambda d: _c(d)["securityContext"].update(privileged=True), "is privileged"),
    (
        "privilege-escalation",
        lambda d: _c(d)["securityContext"].pop("allowPrivilegeEscalation"),
        "allowPrivilegeEscalation",
    ),
    ("run-as-non-root", lambda d: _pod(d)["securityContext"].pop("runAsNonRoot"), "may run as root"),
    ("run-as-non-root", lambda d: _c(d)["securityContext"].update(runAsUser=0), "user 0"),
    (
        "read-only-root-fs",
        lambda d: _c(d)["securityContext"].update(readOnlyRootFilesystem=False),
        "writable",
    ),
    ("host-namespaces", lambda d: _pod(d).update(hostNetwork=True, hostPID=True), "hostNetwork, hostPID"),
    (
        "host-path-mounts",
        lambda d: (
            _pod(d).update(volumes=[{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}]),
            _c(d).update(volumeMounts=[{"name": "sock", "mountPath": "/s"}]),
        ),
        "container runtime socket",
    ),
    ("host-ports", lambda d: _c(d)["ports"][0].update(hostPort=80), "hostPort 80"),
    ("capabilities", lambda d: _c(d)["securityContext"]["capabilities"].update(drop=["NET_RAW"]), "drop ALL"),
    (
        "capabilities",
        lambda d: _c(d)["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]),
        "dangerous: SYS_ADMIN",
    ),
    ("seccomp-profile", lambda d: _pod(d)["securityContext"].pop("seccompProfile"), "is not set"),
    (
        "seccomp-profile",
        lambda d: _c(d)["securityContext"].update(seccompProfile={"type": "Unconfined"}),
        "is Unconfined",
    ),
    (
        "unsafe-kernel-settings",
        lambda d: _pod(d)["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "1"}]),
        "kernel.msgmax",
    ),
    ("unsafe-kernel-settings", lambda d: _c(d)["securityContext"].update(procMount="Unmasked"), "Unmasked"),
    ("probes", lambda d: _c(d).pop("livenessProbe"), "livenessProbe"),
    ("sa-token-automount", lambda d: _pod(d).pop("automountServiceAccountToken"), "default ServiceAccount"),
    (
        "secrets-in-env",
        lambda d: _c(d)["env"].append({"name": "DB_PASSWORD", "value": "hunter2"}),
        "DB_PASSWORD",
    ),
    ("selector-mismatch", lambda d: d["spec"]["selector"]["matchLabels"].update(app="other"), "do not match"),
    ("namespace-and-exposure", lambda d: d["metadata"].update(namespace="default"), "default namespace"),
]


def test_hardened_deployment_passes_every_workload_rule() -> None:
    result = run(cluster(dump(hardened_deployment())), WORKLOAD_RULES)
    assert result.findings == []


@pytest.mark.parametrize(
    ("rule", "mutate", "expect"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_one_change_fails_one_rule(rule: str, mutate: Mutation, expect: str) -> None:
    body = copy.deepcopy(hardened_deployment())
    mutate(body)
    found = run(cluster(dump(body)), WORKLOAD_RULES).findings
    assert {f.rule for f in found} == {rule}, [f.message for f in found]
    assert any(expect in f.message for f in found), [f.message for f in found]
    assert found[0].file == "apps/demo/manifests.yaml" and found[0].line == 1
    assert str(found[0].object) == "Deployment/" + body["metadata"]["namespace"] + "/web"


def test_secret_values_never_appear_in_messages() -> None:
    body = hardened_deployment()
    _c(body)["env"].append({"name": "API_TOKEN", "value": "s3cr3t-value"})
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}}
    cm["data"] = {"db_password": "s3cr3t-value", "config.yaml": "a: 1\nb: 2\n"}
    found = findings(cluster(dump(body, cm)), "secrets-in-env")
    assert len(found) == 2
    assert all("s3cr3t" not in f.message for f in found)


def test_digest_required_only_in_configured_environments() -> None:
    body = hardened_deployment()
    prod = cluster(dump(body), labels={"environment": "prod", "region": "eu"})
    dev = cluster(dump(body), labels={"environment": "dev", "region": "eu"})
    policy = {"requireDigests": ["prod"]}
    assert [f.rule for f in findings(prod, "image-tag-pinned", policy=policy)] == ["image-tag-pinned"]
    assert findings(dev, "image-tag-pinned", policy=policy) == []
    _c(body).update(image="ghcr.io/acme/web@sha256:" + "a" * 64)
    assert (
        findings(cluster(dump(body), labels={"environment": "prod"}), "image-tag-pinned", policy=policy) == []
    )


def test_container_security_context_overrides_pod_level() -> None:
    body = hardened_deployment()
    _c(body)["securityContext"]["runAsNonRoot"] = False
    _c(body)["securityContext"]["runAsUser"] = 0
    assert [f.rule for f in findings(cluster(dump(body)), "run-as-non-root")] == ["run-as-non-root"]
    body = hardened_deployment()
    _pod(body)["securityContext"] = {}
    _c(body)["securityContext"].update(runAsNonRoot=True, seccompProfile={"type": "RuntimeDefault"})
    assert run(cluster(dump(body)), ["run-as-non-root", "seccomp-profile"]).findings == []


@pytest.mark.parametrize("kind", sorted(WORKLOAD_KINDS - {"Pod"}))
def test_every_workload_kind_is_inspected(kind: str) -> None:
    body = hardened_deployment()
    template = body["spec"].pop("template")
    _cont = template["spec"]["containers"][0]
    _cont["securityContext"]["privileged"] = True
    if kind == "CronJob":
        body = {
            **body,
            "apiVersion": "batch/v1",
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}},
        }
    else:
        body["spec"]["template"] = template
    body["kind"] = kind
    found = findings(cluster(dump(body)), "privileged")
    assert len(found) == 1 and kind in found[0].message


def test_init_containers_are_checked_and_probes_only_for_long_running() -> None:
    body = hardened_deployment()
    init = copy.deepcopy(_c(body))
    init.update(name="migrate", image="ghcr.io/acme/migrate")
    init.pop("readinessProbe")
    _pod(body)["initContainers"] = [init]
    found = run(cluster(dump(body)), WORKLOAD_RULES).findings
    assert [(f.rule, "init container 'migrate'" in f.message) for f in found] == [("image-tag-pinned", True)]
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "namespace": "shop"}}
    job["spec"] = {"template": copy.deepcopy(body["spec"]["template"])}
    _c({"spec": job["spec"]}).pop("livenessProbe")
    assert findings(cluster(dump(job)), "probes") == []


def test_service_exposure_and_registry_allowlist() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "shop"}}
    svc["spec"] = {"type": "LoadBalancer", "ports": [{"port": 80}]}
    found = findings(cluster(dump(svc)), "namespace-and-exposure")
    assert len(found) == 1 and "LoadBalancer" in found[0].message
    allowed = {"allowedServiceTypes": ["ClusterIP", "LoadBalancer"]}
    assert findings(cluster(dump(svc)), "namespace-and-exposure", policy=allowed) == []
    body = hardened_deployment()
    found = findings(
        cluster(dump(body)), "namespace-and-exposure", policy={"allowedRegistries": ["registry.acme/"]}
    )
    assert len(found) == 1 and "not from an allowed registry" in found[0].message
    assert (
        findings(
            cluster(dump(body)), "namespace-and-exposure", policy={"allowedRegistries": ["ghcr.io/acme/"]}
        )
        == []
    )


def test_helm_release_is_reported_as_not_evaluated() -> None:
    hr = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "h", "namespace": "x"},
    }
    found = findings(cluster(dump(hr)), "helm-release-not-evaluated")
    assert len(found) == 1 and found[0].severity.value == "info"


def test_a_rendered_helm_release_is_evaluated_not_reported() -> None:
    from dataclasses import replace

    from fluxfleet.render.model import HelmReleaseInfo

    hr = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "h", "namespace": "x"},
    }
    base = cluster(dump(hr))
    info = HelmReleaseInfo(name="h", namespace="x", chart="c", version="1.0.0", source="HelmRepository/x/r")
    listed = replace(base, helmreleases=(replace(info, reason="not rendered: no helm binary found"),))
    [finding] = findings(listed, "helm-release-not-evaluated")
    assert "no helm binary found" in finding.message
    rendered = replace(base, helmreleases=(replace(info, rendered=True, reason="rendered from cache"),))
    assert findings(rendered, "helm-release-not-evaluated") == []
