"""Flux notification-controller events, parsed and validated (pure).

The body is notification-controller's ``Event``: involvedObject, severity, timestamp (RFC 3339,
whole seconds), message, reason, metadata, reportingController. Current controllers strip the
group prefix from metadata keys (``revision``); older ones kept it
(``kustomize.toolkit.fluxcd.io/revision``): both are accepted. The payload names no cluster; the
receiver takes it from the URL (and checks it against an Alert's ``cluster`` eventMetadata).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fluxfleet.errors import FleetError

MAX_MESSAGE = 39_000  # the Event API's own limit
_SEVERITIES = ("info", "error", "trace")
_FIELD_MAX = {"kind": 63, "namespace": 253, "name": 253, "apiVersion": 253}


@dataclass(frozen=True)
class FluxEvent:
    cluster: str
    kind: str
    namespace: str
    name: str
    api_version: str
    severity: str
    reason: str
    message: str
    revision: str | None
    metadata: dict[str, str]
    controller: str
    emitted_at: datetime
    key: str  # idempotency key: the same event from a retry or an import is stored once

    @property
    def object_ref(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"


def _text(data: dict[str, Any], key: str, where: str, *, limit: int, required: bool = True) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value) or len(value) > limit:
        raise FleetError(f"`{key}` must be a string of 1 to {limit} characters", field=f"{where}{key}")
    return value


def parse_timestamp(value: object, field: str = "timestamp") -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise FleetError("`timestamp` must be an RFC 3339 time", field=field)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FleetError(f"`timestamp` {value!r} is not an RFC 3339 time", field=field) from None
    if parsed.tzinfo is None:
        raise FleetError("`timestamp` must carry a time zone (Flux sends UTC with Z)", field=field)
    return parsed.astimezone(UTC)


def revision_of(metadata: dict[str, str], api_version: str) -> str | None:
    """The reported revision, from the unprefixed key or the legacy ``<group>/revision`` one."""
    if "revision" in metadata:
        return metadata["revision"]
    group = api_version.split("/", 1)[0]
    return metadata.get(f"{group}/revision")


def idempotency_key(cluster: str, event: dict[str, Any]) -> str:
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{cluster}\0{canonical}".encode()).hexdigest()


def parse_event(cluster: str, data: object, *, where: str = "") -> FluxEvent:
    """Validate one event body; a bad one raises :class:`FleetError` naming the field."""
    if not isinstance(data, dict):
        raise FleetError("an event must be a JSON object", field=where or None)
    obj = data.get("involvedObject")
    if not isinstance(obj, dict):
        raise FleetError("`involvedObject` must be an object", field=f"{where}involvedObject")
    inv = f"{where}involvedObject."
    kind = _text(obj, "kind", inv, limit=_FIELD_MAX["kind"])
    name = _text(obj, "name", inv, limit=_FIELD_MAX["name"])
    namespace = _text(obj, "namespace", inv, limit=_FIELD_MAX["namespace"], required=False)
    api_version = _text(obj, "apiVersion", inv, limit=_FIELD_MAX["apiVersion"], required=False)
    severity = data.get("severity")
    if severity not in _SEVERITIES:
        raise FleetError(f"`severity` must be one of {', '.join(_SEVERITIES)}", field=f"{where}severity")
    message = data.get("message", "")
    if not isinstance(message, str) or len(message) > MAX_MESSAGE:
        raise FleetError(
            f"`message` must be a string of at most {MAX_MESSAGE} characters", field=f"{where}message"
        )
    reason = _text(data, "reason", where, limit=256, required=False)
    controller = _text(data, "reportingController", where, limit=253, required=False)
    raw_meta = data.get("metadata") or {}
    if not isinstance(raw_meta, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(k) <= 316 and len(v) <= 4096
        for k, v in raw_meta.items()
    ):
        raise FleetError("`metadata` must map strings to strings", field=f"{where}metadata")
    if len(raw_meta) > 64:
        raise FleetError("`metadata` has more than 64 keys", field=f"{where}metadata")
    meta_cluster = raw_meta.get("cluster")
    if meta_cluster is not None and meta_cluster != cluster:
        raise FleetError(
            f"the event's `cluster` metadata {meta_cluster!r} does not match the cluster {cluster!r}",
            field=f"{where}metadata.cluster",
        )
    return FluxEvent(
        cluster=cluster,
        kind=kind,
        namespace=namespace,
        name=name,
        api_version=api_version,
        severity=str(severity),
        reason=reason,
        message=message,
        revision=revision_of(raw_meta, api_version),
        metadata=dict(raw_meta),
        controller=controller,
        emitted_at=parse_timestamp(data.get("timestamp"), f"{where}timestamp"),
        key=idempotency_key(cluster, data),
    )
