"""Kubernetes object identity shared by render, check, diff and report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Cluster-scoped kinds (group, kind) of Kubernetes itself and of CRDs common in Flux fleets; CRDs
# found in a render add their own. Everything else is namespaced.
BUILTIN_CLUSTER_SCOPED = frozenset(
    {
        ("", "Namespace"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("", "ComponentStatus"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("apiregistration.k8s.io", "APIService"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("storage.k8s.io", "VolumeAttributesClass"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "IPAddress"),
        ("networking.k8s.io", "ServiceCIDR"),
        ("node.k8s.io", "RuntimeClass"),
        ("policy", "PodSecurityPolicy"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("certificates.k8s.io", "ClusterTrustBundle"),
        ("resource.k8s.io", "DeviceClass"),
        ("templates.gatekeeper.sh", "ConstraintTemplate"),
        ("gateway.networking.k8s.io", "GatewayClass"),
    }
)


@dataclass(frozen=True, order=True)
class ObjectKey:
    """Identity of a Kubernetes object, as in a Flux inventory entry."""

    group: str
    version: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, body: dict[str, Any]) -> ObjectKey:
        api = str(body.get("apiVersion") or "")
        group, _, version = api.rpartition("/")
        meta = body.get("metadata") or {}
        return cls(
            group=group,
            version=version,
            kind=str(body.get("kind") or ""),
            namespace=str(meta.get("namespace") or ""),
            name=str(meta.get("name") or ""),
        )

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def inventory_id(self) -> str:
        """Flux's inventory id: ``<ns>_<name>_<group>_<kind>``."""
        return f"{self.namespace}_{self.name}_{self.group}_{self.kind}"

    def __str__(self) -> str:
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class Provenance:
    """Where a rendered object came from: the file (if known) and the Flux Kustomization."""

    file: str | None = None
    line: int | None = None
    kustomization: str | None = None  # "namespace/name" of the Flux Kustomization that applies it


@dataclass(frozen=True)
class K8sObject:
    key: ObjectKey
    body: dict[str, Any] = field(hash=False, compare=False)
    source: Provenance = field(default_factory=Provenance)

    @classmethod
    def of(cls, body: dict[str, Any], source: Provenance | None = None) -> K8sObject:
        return cls(ObjectKey.of(body), body, source or Provenance())
