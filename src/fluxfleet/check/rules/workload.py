"""Workload security rules over pod specs (Pod Security Standards baseline + restricted and more).

Every rule runs on the pod spec of a workload (policy-checks.md §1) and on all its containers,
init and ephemeral included; container-level security context overrides the pod-level one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fluxfleet.check.context import ClusterContext
from fluxfleet.check.model import Severity, Violation
from fluxfleet.check.podspec import (
    LONG_RUNNING_KINDS,
    WORKLOAD_KINDS,
    container_label,
    container_sc,
    containers,
    mapping,
    pod_spec,
    pod_template,
    sc_value,
)
from fluxfleet.check.registry import object_rule
from fluxfleet.objects import K8sObject

CAT = "security"


def _label(obj: K8sObject, fld: str, c: dict[str, Any]) -> str:
    return f"{obj.key.kind} {obj.key.name}: {container_label(fld, c)}"


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """``(repository, tag, digest)`` of an image reference."""
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    tag = None
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        image, tag = image[:colon], image[colon + 1 :]
    return image, tag, digest


@object_rule(
    "image-tag-pinned",
    Severity.high,
    hint="pin an explicit version tag (or a digest: image@sha256:...); never :latest",
    doc="container images use :latest or no tag (digests required where policy.requireDigests says)",
    category=CAT,
    kinds=WORKLOAD_KINDS,
)
def image_tag_pinned(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    spec = pod_spec(obj.body)
    if spec is None:
        return
    need_digest = ctx.environment is not None and ctx.environment in ctx.policy.require_digests
    for fld, c in containers(spec):
        image = str(c.get("image") or "")
        if not image:
            continue
        _repo, tag, digest = split_image(image)
        if digest:
            continue
        if tag is None:
            yield Violation(f"{_label(obj, fld, c)} image {image} has no tag (means :latest)", obj)
        elif tag == "latest":
            yield Violation(f"{_label(obj, fld, c)} image {image} uses :latest", obj)
        elif need_digest:
            yield Violation(
                f"{_label(obj, fld, c)} image {image} is not pinned by digest (required in {ctx.environment})",
                obj,
            )


@object_rule(
    "resources-requests-limits",
    Severity.medium,
    hint="set resources.requests.cpu, resources.requests.memory and resources.limits.memory",
    doc="containers set cpu and memory requests and a memory limit",
    category=CAT,
    kinds=WORKLOAD_KINDS,
)
def resources_requests_limits(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    spec = pod_spec(obj.body)
    if spec is None:
        return
    for fld, c in containers(spec):
        if fld == "ephemeralContainers":
            continue  # ephemeral containers may not set resources
        res = mapping(c.get("resources"))
        req = mapping(res.get("requests"))
        lim = mapping(res.get("limits"))
        missing = [
            name
            for name, ok in (
                ("requests.cpu", "cpu" in req or "cpu" in lim),  # a limit alone defaults the request
                ("requests.memory", "memory" in req or "memory" in lim),
                ("limits.memory", "memory" in lim),
            )
            if not ok
        ]
        if missing:
            yield Violation(f"{_label(obj, fld, c)} sets no {', '.join(missing)}", obj)


@object_rule(
    "privileged",
    Severity.critical,
    hint="remove securityContext.privileged: true",
    doc="no container runs privileged",
    category=CAT,
    kinds=WORKLOAD_KINDS,
)
def privileged(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    spec = pod_spec(obj.body)
    if spec is None:
        return
    for fld, c in containers(spec):
        if container_sc(c).get("privileged") is True:
            yield Violation(f"{_label(obj, fld, c)} is privileged", obj)


@object_rule(
    "privilege-escalation",
    Severity.high,
    hint="set securityContext.allowPrivilegeEscalation: false on every container",
    doc="every container sets allowPrivilegeEscalation: false",
    category=CAT,
    kinds=WORKLOAD_KINDS,
)
def privilege_escalation(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    spec = pod_spec(obj.body)
    if spec is None:
        return
    for fld, c in containers(spec):
        if container_sc(c).get("allowPrivilegeEscalation") is not False:
            yield Violation(f"{_label(obj, fld, c)} does not set allowPrivilegeEscalation: false", obj)


@object_rule(
    "run-as-non-root",
    Severity.high,
    hint="set securityContext.runAsNonRoot: true (and a non-zero runAsUser) on the pod or container",
    doc="containers must not run as root: runAsNonRoot: true or a non-zero runAsUser",
    category=CAT,
    kinds=WORKLOAD_KINDS,
)
def run_as_non_root(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    spec = pod_spec(obj.body)
    if spec is None:
        return
    for fld, c in containers(spec):
        user = sc_value(spec, c, "runAsUser")
        if user == 0:
            yield Violation(f"{_label(obj, fld, c)} runs as user 0 (root)", obj)
        elif sc_value(spec, c, "runAsNonRoot") is not True and not (isinstance(user, int) and user > 0):
            yield Violation(
                f"{_label(obj, fld, c)} may run as root (no runAsNonRoot: true or runAsUser)", obj
            )


@object_rule(
    "read-only-root-fs",
    Severity.medium,
    hint="set securityContext.readOnlyRootFilesystem: true; mount an emptyDir where the app writes",
    doc="containers use a read-only root filesystem",
    category=CAT,
    kinds=WORKLOAD_KINDS,
)
def read_only_root_fs(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    spec = pod_spec(obj.body)
    if spec is None:
        return
    for fld, c in containers(spec):
        if container_sc(c).get("readOnlyRootFilesystem") is not True:
            yield Violation(f"{_label(obj, fld, c)} has a writable root filesystem", obj)


@object_rule(
    "host-namespaces",
    Severity.critical,
    hint="remove hostNetwork, hostPID and hostIPC from the pod spec",
    doc="pods do not share the host's network, PID or IPC namespace",
    category=CAT,
    kinds=WORKLOAD_KINDS,
)
def host_namespaces(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    spec = pod_spec(obj.body)
    if spec is None:
        return
    used = [f for f in ("hostNetwork", "hostPID", "hostIPC") if spec.get(f) is True]
    if used:
        yield Violation(f"{obj.key.kind} {obj.key.name} sets {', '.join(used)}", obj)


SENSITIVE_HOST_PATHS = ("/", "/etc", "/proc", "/sys", "/root", "/var/lib/kubelet", "/var/run", "/run")
SOCKETS = ("docker.sock", "containerd.sock", "crio.sock", "cri-dockerd.sock")


@object_rule(
    "host-path-mounts",
    Severity.high,
    hint="use a PersistentVolumeClaim, emptyDir or CSI volume instead of hostPath",
    doc="pods mount no hostPath volumes (sensitive paths and container runtime sockets above all)",
    category=CAT,
    kinds=WORKLOAD_KINDS,
)
def host_path_mounts(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    spec = pod_spec(obj.body)
    if spec is None:
        return
    for vol in spec.get("volumes") or []:
        if not isinstance(vol, dict) or not isinstance(vol.get("hostPath"), dict):
            continue
        path = str(vol["hostPath"].get("path") or "")
        what = ""
        if path.rstrip("/") in {p.rstrip("/") for p in SENSITIVE_HOST_PATHS} or path == "/":
            what = " (sensitive host path)"
        elif path.endswith(SOCKETS):
            what = " (container runtime socket)"
        writable = [
            c.get("name")
            for _, c in containers(spec)
            for m in c.get("volumeMounts") or []
            if isinstance(m, dict) and m.get("name") == vol.get("name") and m.get("readOnly") is not True
        ]
        rw = f", mounted writable by {', '.join(map(str, writable))}" if writable else ""
        yield Violation(f"{obj.key.kind} {obj.key.name} mounts hostPath {path}{what}{rw}", obj)


@object_rule(
    "host-ports",
    Severity.medium,
    hint="remove hostPort; expose the pod through a Service",
    doc="containers bind no host ports",
    category=CAT,
    kinds=WORKLOAD_KINDS,
)
def host_ports(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    spec = pod_spec(obj.body)
    if spec is None:
        return
    for fld, c in containers(spec):
        for p in c.get("ports") or []:
            if isinstance(p, dict) and p.get("hostPort"):
                yield Violation(f"{_label(obj, fld, c)} binds hostPort {p['hostPort']}", obj)


DANGEROUS_CAPS = frozenset({"SYS_ADMIN", "NET_ADMIN", "SYS_MODULE", "SYS_PTRACE", "SYS_RAWIO", "BPF", "ALL"})


@object_rule(
    "capabilities",
    Severity.high,
    hint="set capabilities.drop: [ALL] and add back only what policy.allowedCapabilities permits",
    doc="containers drop ALL capabilities and add only allowed ones (never SYS_ADMIN and the like)",
    category=CAT,
    kinds=WORKLOAD_KINDS,
)
def capabilities(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    spec = pod_spec(obj.body)
    if spec is None:
        return
    allowed = {c.upper() for c in ctx.policy.allowed_capabilities}
    for fld, c in containers(spec):
        caps = container_sc(c).get("capabilities")
        caps = mapping(caps)
        drop = {str(x).upper() for x in caps.get("drop") or []}
        add = [str(x).upper() for x in caps.get("add") or []]
        if "ALL" not in drop:
            yield Violation(f"{_label(obj, fld, c)} does not drop ALL capabilities", obj)
        bad = [a.removeprefix("CAP_") for a in add if a.removeprefix("CAP_") not in allowed]
        if bad:
            dangerous = [b for b in bad if b in DANGEROUS_CAPS]
            note = f" (dangerous: {', '.join(dangerous)})" if dangerous else ""
            yield Violation(f"{_label(obj, fld, c)} adds capabilities {', '.join(bad)}{note}", obj)


SELINUX_TYPES = frozenset({"container_t", "container_init_t", "container_kvm_t", "container_engine_t"})


@object_rule(
    "seccomp-profile",
    Severity.medium,
    hint="set securityContext.seccompProfile.type: RuntimeDefault on the pod",
    doc="seccomp RuntimeDefault or Localhost (never Unconfined); AppArmor not unconfined; SELinux type restricted",
    category=CAT,
    kinds=WORKLOAD_KINDS,
)
def seccomp_profile(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    spec = pod_spec(obj.body)
    if spec is None:
        return
    template = pod_template(obj.body) or {}
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    for fld, c in containers(spec):
        prof = sc_value(spec, c, "seccompProfile")
        kind = prof.get("type") if isinstance(prof, dict) else None
        if kind not in ("RuntimeDefault", "Localhost"):
            state = f"is {kind}" if kind else "is not set"
            yield Violation(f"{_label(obj, fld, c)}: seccomp profile {state}", obj)
        apparmor = sc_value(spec, c, "appArmorProfile")
        legacy = annotations.get(f"container.apparmor.security.beta.kubernetes.io/{c.get('name')}")
        if (isinstance(apparmor, dict) and apparmor.get("type") == "Unconfined") or legacy == "unconfined":
            yield Violation(f"{_label(obj, fld, c)}: AppArmor profile is unconfined", obj)
        selinux = sc_value(spec, c, "seLinuxOptions")
        if isinstance(selinux, dict):
            t = selinux.get("type")
            if (t and t not in SELINUX_TYPES) or selinux.get("user") or selinux.get("role"):
                yield Violation(f"{_label(obj, fld, c)}: SELinux options outside the allowed set", obj)


SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)


@object_rule(
    "unsafe-kernel-settings",
    Severity.high,
    hint="remove unsafe sysctls, procMount: Unmasked and Windows hostProcess",
    doc="no sysctls outside the safe set, no unmasked /proc, no Windows HostProcess containers",
    category=CAT,
    kinds=WORKLOAD_KINDS,
)
def unsafe_kernel_settings(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    spec = pod_spec(obj.body)
    if spec is None:
        return
    psc = mapping(spec.get("securityContext"))
    for s in psc.get("sysctls") or []:
        if isinstance(s, dict) and s.get("name") not in SAFE_SYSCTLS:
            yield Violation(f"{obj.key.kind} {obj.key.name} sets unsafe sysctl {s.get('name')}", obj)
    if (psc.get("windowsOptions") or {}).get("hostProcess") is True:
        yield Violation(f"{obj.key.kind} {obj.key.name} runs as a Windows HostProcess pod", obj)
    for fld, c in containers(spec):
        sc = container_sc(c)
        if sc.get("procMount") == "Unmasked":
            yield Violation(f"{_label(obj, fld, c)} uses procMount: Unmasked", obj)
        if (sc.get("windowsOptions") or {}).get("hostProcess") is True:
            yield Violation(f"{_label(obj, fld, c)} is a Windows HostProcess container", obj)


@object_rule(
    "probes",
    Severity.medium,
    hint="add readinessProbe and livenessProbe to every long-running container",
    doc="long-running workloads (not Jobs/CronJobs) define readiness and liveness probes",
    category=CAT,
    kinds=LONG_RUNNING_KINDS,
)
def probes(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    spec = pod_spec(obj.body)
    if spec is None:
        return
    for fld, c in containers(spec):
        if fld != "containers":
            continue
        missing = [p for p in ("readinessProbe", "livenessProbe") if not c.get(p)]
        if missing:
            yield Violation(f"{_label(obj, fld, c)} has no {' or '.join(missing)}", obj)


@object_rule(
    "sa-token-automount",
    Severity.low,
    hint="set automountServiceAccountToken: false, or run as a dedicated ServiceAccount that needs the token",
    doc="pods of the default ServiceAccount do not mount its API token",
    category=CAT,
    kinds=WORKLOAD_KINDS,
)
def sa_token_automount(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    spec = pod_spec(obj.body)
    if spec is None:
        return
    sa = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    if sa == "default" and spec.get("automountServiceAccountToken") is not False:
        yield Violation(
            f"{obj.key.kind} {obj.key.name} runs as the default ServiceAccount with its API token mounted",
            obj,
        )


SECRET_NAME = re.compile(
    r"(PASSW(OR)?D|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|AUTH)", re.IGNORECASE
)
_NOT_SECRET = re.compile(
    r"(_FILE|_PATH|_DIR|_URL|_ENDPOINT|_HOST|_NAME|_ID|_LENGTH|_TTL|_TIMEOUT)$", re.IGNORECASE
)


def secret_looking(name: str) -> bool:
    return bool(SECRET_NAME.search(name)) and not _NOT_SECRET.search(name)


@object_rule(
    "secrets-in-env",
    Severity.high,
    hint="move the value to a Secret and use valueFrom.secretKeyRef (or a mounted Secret volume)",
    doc="no literal secret-looking values in container env or ConfigMap data (values are never printed)",
    category=CAT,
    kinds=(*WORKLOAD_KINDS, "ConfigMap"),
)
def secrets_in_env(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    if obj.key.kind == "ConfigMap":
        data = obj.body.get("data")
        if isinstance(data, dict):
            for key, value in data.items():
                if secret_looking(str(key)) and isinstance(value, str) and value and "\n" not in value:
                    yield Violation(f"ConfigMap {obj.key.name} key {key!r} looks like a secret value", obj)
        return
    spec = pod_spec(obj.body)
    if spec is None:
        return
    for fld, c in containers(spec):
        for env in c.get("env") or []:
            if not isinstance(env, dict):
                continue
            name, value = str(env.get("name") or ""), env.get("value")
            if secret_looking(name) and isinstance(value, str) and value and "$(" not in value:
                yield Violation(f"{_label(obj, fld, c)} env {name} holds a literal secret-looking value", obj)


@object_rule(
    "selector-mismatch",
    Severity.high,
    hint="make spec.selector.matchLabels a subset of spec.template.metadata.labels",
    doc="a workload's selector does not match its pod template labels (the API server rejects it)",
    category="correctness",
    kinds=("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"),
)
def selector_mismatch(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    spec = mapping(obj.body.get("spec"))
    selector = (
        (spec.get("selector") or {}).get("matchLabels") if isinstance(spec.get("selector"), dict) else None
    )
    template = pod_template(obj.body) or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not isinstance(selector, dict) or not isinstance(labels, dict):
        return
    wrong = sorted(k for k, v in selector.items() if labels.get(k) != v)
    if wrong:
        yield Violation(
            f"{obj.key.kind} {obj.key.name}: selector labels {wrong} do not match the pod template", obj
        )


@object_rule(
    "helm-release-not-evaluated",
    Severity.info,
    hint="render the chart (helm template) and check its output to cover the workloads it creates",
    doc="a HelmRelease's workloads are not rendered offline, so workload rules did not run on them",
    category=CAT,
    kinds=("HelmRelease",),
)
def helm_release_not_evaluated(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    if obj.key.group != "helm.toolkit.fluxcd.io":
        return
    listed = next(
        (h for h in ctx.render.helmreleases if (h.namespace, h.name) == (obj.key.namespace, obj.key.name)),
        None,
    )
    if listed is not None and listed.rendered:
        return  # the chart's objects are part of the render and met every rule
    reason = f" ({listed.reason})" if listed is not None and listed.reason else ""
    yield Violation(f"{obj.key}: chart workloads not evaluated{reason}", obj)
