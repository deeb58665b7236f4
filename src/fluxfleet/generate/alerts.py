"""Notification Provider + Alert per cluster (fleet.yaml ``spec.alerts``, per environment overridable).

Written to ``<cluster>/notifications/``, applied by the cluster's flux-system Kustomization. The
Provider's Secret is referenced by name only: fluxfleet never holds a webhook URL or token.

notification-controller matches an event source only in the namespace it names, and under the
tenant lockdown (``--no-cross-namespace-refs``) it drops every event from a namespace other than the
Alert's. So without the lockdown the Alert also lists the HelmReleases of the platform namespaces;
with it, the Alert keeps to what lives in flux-system (every generated Kustomization and the
cluster's GitRepository), which it can receive.
"""

from __future__ import annotations

from typing import Any

from fluxfleet import yamlio
from fluxfleet.fleet.load import Fleet
from fluxfleet.fleet.model import Cluster
from fluxfleet.fleet.placement import Placement
from fluxfleet.fleet.wiring import AlertsConfig
from fluxfleet.generate.image_automation import writer_clusters
from fluxfleet.generate.layout import FLUX_NAMESPACE, cluster_dirs
from fluxfleet.generate.tenants import lockdown_enabled

NOTIFICATION_API = "notification.toolkit.fluxcd.io/v1beta3"
NOTIFICATIONS_DIR = "notifications"
NAME = "fluxfleet"
KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"


def notification_objects(
    provider_type: str,
    address: str | None,
    secret_ref: str,
    event_sources: list[dict[str, str]],
    metadata: dict[str, str],
    *,
    name: str = NAME,
    namespace: str = FLUX_NAMESPACE,
    channel: str | None = None,
    severity: str = "info",
) -> list[dict[str, Any]]:
    """A Provider and the Alert that sends ``event_sources`` to it, with ``metadata`` on every event.

    Reusable on its own, e.g. a ``generic-hmac`` Provider pointing at a fleet event service.
    """
    provider_spec: dict[str, Any] = {"type": provider_type}
    if address:
        provider_spec["address"] = address
    if channel:
        provider_spec["channel"] = channel
    provider_spec["secretRef"] = {"name": secret_ref}
    provider = {
        "apiVersion": NOTIFICATION_API,
        "kind": "Provider",
        "metadata": {"name": name, "namespace": namespace},
        "spec": provider_spec,
    }
    alert = {
        "apiVersion": NOTIFICATION_API,
        "kind": "Alert",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "providerRef": {"name": name},
            "eventSeverity": severity,
            "eventSources": [dict(s) for s in event_sources],
            "eventMetadata": dict(sorted(metadata.items())),
        },
    }
    return [provider, alert]


def alerts_for(fleet: Fleet, cluster: Cluster) -> AlertsConfig | None:
    """The environment's alerts setting, else the fleet's; None when off."""
    config = fleet.env(cluster.environment).alerts or fleet.alerts
    return config if config is not None and config.enabled else None


def event_sources(
    fleet: Fleet, placement: Placement, cluster: Cluster, provider_type: str
) -> list[dict[str, str]]:
    sources = [{"kind": "Kustomization", "name": "*", "namespace": FLUX_NAMESPACE}]
    if provider_type == "github":
        return sources  # a commit status is per Kustomization revision
    sources.append({"kind": "GitRepository", "name": "*", "namespace": FLUX_NAMESPACE})
    if any(cluster.name in writer_clusters(fleet, placement, app).values() for app in fleet.apps):
        # the cluster that runs an app's image automation: a failed scan, policy or push is news too
        for kind in ("ImageRepository", "ImagePolicy", "ImageUpdateAutomation"):
            sources.append({"kind": kind, "name": "*", "namespace": FLUX_NAMESPACE})
    if not lockdown_enabled(fleet):
        namespaces = sorted({c.namespace for c in placement.components_on(cluster.name) if c.chart})
        for ns in namespaces:
            sources.append({"kind": "HelmRelease", "name": "*", "namespace": ns})
    return sources


def plan_alerts(fleet: Fleet, placement: Placement) -> dict[str, str]:
    """``<cluster>/notifications/{kustomization,alerts}.yaml`` (without the generated-file header)."""
    dirs = cluster_dirs(fleet)
    out: dict[str, str] = {}
    for cluster in fleet.clusters:
        config = alerts_for(fleet, cluster)
        if config is None:
            continue
        metadata = {"cluster": cluster.name, "environment": cluster.environment, "region": cluster.region}
        docs = notification_objects(
            config.type,
            config.address,
            config.secret_ref,
            event_sources(fleet, placement, cluster, config.type),
            metadata,
            channel=config.channel,
            severity=config.severity,
        )
        folder = f"{dirs[cluster.name]}/{NOTIFICATIONS_DIR}"
        out[f"{folder}/alerts.yaml"] = yamlio.dump_all(docs)
        out[f"{folder}/kustomization.yaml"] = yamlio.dump(
            {"apiVersion": KUSTOMIZE_API, "kind": "Kustomization", "resources": ["alerts.yaml"]}
        )
    return out


def cluster_resources(fleet: Fleet) -> dict[str, list[str]]:
    """``cluster -> ["notifications"]`` for clusters with alerts."""
    return {c.name: [NOTIFICATIONS_DIR] for c in fleet.clusters if alerts_for(fleet, c) is not None}


# The Secret key each Provider type reads (notification-controller: `address` for webhook types,
# `token` for the HMAC key and the GitHub token).
SECRET_KEYS = {"slack": "address", "msteams": "address", "generic-hmac": "token", "github": "token"}


def secret_commands(fleet: Fleet) -> list[dict[str, Any]]:
    """Per distinct alerts Secret: the clusters that need it and the command that creates it."""
    wanted: dict[tuple[str, str], list[str]] = {}
    for cluster in fleet.clusters:
        config = alerts_for(fleet, cluster)
        if config is not None:
            wanted.setdefault((config.secret_ref, config.type), []).append(cluster.name)
    return [
        {
            "secret": name,
            "clusters": clusters,
            "command": f"kubectl -n {FLUX_NAMESPACE} create secret generic {name} "
            f"--from-literal={SECRET_KEYS[kind]}=<{kind} {SECRET_KEYS[kind]}>",
        }
        for (name, kind), clusters in sorted(wanted.items())
    ]
