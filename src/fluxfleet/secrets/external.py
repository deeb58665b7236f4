"""External Secrets Operator scaffolding: ClusterSecretStores and ExternalSecrets as user files.

The API version follows the external-secrets chart the fleet installs (``external-secrets.io/v1``
from chart 0.16 on, ``v1beta1`` before), so the manifests match the CRDs on the clusters.
``refreshInterval`` is the rotation policy: how often the operator re-reads the remote value.
Files are scaffolds (the user's afterwards); existing files are never overwritten, and the
overlay's kustomization.yaml is edited with ruamel so its comments survive.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fluxfleet import yamlio
from fluxfleet.errors import FleetError
from fluxfleet.fleet.names import dns1123_label_error, duration_error
from fluxfleet.fsutil import check_relative, safe_join, write_plan

if TYPE_CHECKING:  # the CLI imports this module for its enums; keep pydantic and ruamel out of startup
    from ruamel.yaml import YAML

    from fluxfleet.fleet.load import Fleet

DEFAULT_STORE_DIR = "platform/secret-stores"
ESO_GROUP = "external-secrets.io"
ESO_SA = {"name": "external-secrets", "namespace": "external-secrets"}
_SEMVER = re.compile(r"^v?(\d+)\.(\d+)")
KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"


class Provider(StrEnum):
    aws = "aws"
    vault = "vault"


class StoreKind(StrEnum):
    cluster = "ClusterSecretStore"
    namespaced = "SecretStore"


def eso_api_version(fleet: Fleet) -> str:
    """``external-secrets.io/v1`` unless the fleet pins an external-secrets chart older than 0.16."""
    for comp in fleet.platform:
        if comp.chart is not None and comp.chart.name == "external-secrets":
            m = _SEMVER.match(comp.chart.version)
            if m and (int(m.group(1)), int(m.group(2))) < (0, 16):
                return f"{ESO_GROUP}/v1beta1"
    return f"{ESO_GROUP}/v1"


@dataclass(frozen=True)
class StoreSpec:
    name: str
    provider: Provider
    region: str | None = None
    server: str | None = None
    vault_path: str = "secret"
    role: str | None = None


def _name(value: str, what: str) -> None:
    err = dns1123_label_error(value)
    if err:
        raise FleetError(f"{what}: {err}")


def store_manifest(fleet: Fleet, spec: StoreSpec) -> dict[str, Any]:
    _name(spec.name, "store name")
    if spec.provider is Provider.aws:
        if not spec.region:
            raise FleetError("--region is required for an AWS Secrets Manager store")
        jwt: dict[str, Any] = {"serviceAccountRef": dict(ESO_SA)}
        provider: dict[str, Any] = {
            "aws": {"service": "SecretsManager", "region": spec.region, "auth": {"jwt": jwt}}
        }
        if spec.role:
            provider["aws"]["role"] = spec.role
    else:
        if not spec.server or not spec.server.startswith(("https://", "http://")):
            raise FleetError("--server https://vault.example.com is required for a Vault store")
        provider = {
            "vault": {
                "server": spec.server,
                "path": spec.vault_path,
                "version": "v2",
                "auth": {
                    "kubernetes": {
                        "mountPath": "kubernetes",
                        "role": spec.role or "external-secrets",
                        "serviceAccountRef": dict(ESO_SA),
                    }
                },
            }
        }
    return {
        "apiVersion": eso_api_version(fleet),
        "kind": "ClusterSecretStore",
        "metadata": {"name": spec.name},
        "spec": {"provider": provider},
    }


@dataclass(frozen=True)
class DataRef:
    secret_key: str
    remote_key: str
    property: str | None = None


def parse_data(text: str) -> DataRef:
    """``SECRET_KEY=REMOTE_KEY[#PROPERTY]``."""
    key, sep, remote = text.partition("=")
    if not sep or not key or not remote:
        raise FleetError(
            f"--data {text!r} must look like SECRET_KEY=REMOTE_KEY or SECRET_KEY=REMOTE_KEY#PROPERTY"
        )
    remote_key, _, prop = remote.partition("#")
    if not re.fullmatch(r"[-._a-zA-Z0-9]+", key):
        raise FleetError(f"--data: {key!r} is not a valid Secret key (letters, digits, '-', '_', '.')")
    return DataRef(key, remote_key, prop or None)


@dataclass(frozen=True)
class ExternalSecretSpec:
    name: str
    app: str
    env: str
    store: str
    store_kind: StoreKind
    data: tuple[DataRef, ...]
    refresh: str = "1h"


def external_secret_manifest(fleet: Fleet, spec: ExternalSecretSpec, namespace: str) -> dict[str, Any]:
    _name(spec.name, "name")
    _name(spec.store, "--store")
    if err := duration_error(spec.refresh):
        raise FleetError(f"--refresh: {err}")
    if not spec.data:
        raise FleetError("give at least one --data SECRET_KEY=REMOTE_KEY")
    data = []
    for ref in spec.data:
        remote: dict[str, Any] = {"key": ref.remote_key}
        if ref.property:
            remote["property"] = ref.property
        data.append({"secretKey": ref.secret_key, "remoteRef": remote})
    return {
        "apiVersion": eso_api_version(fleet),
        "kind": "ExternalSecret",
        "metadata": {"name": spec.name, "namespace": namespace},
        "spec": {
            "refreshInterval": spec.refresh,
            "secretStoreRef": {"kind": spec.store_kind.value, "name": spec.store},
            "target": {"name": spec.name, "creationPolicy": "Owner"},
            "data": data,
        },
    }


def _rt() -> YAML:
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=2, offset=0)
    return y


def _with_resource(repo: Path, kustomization_rel: str, resource: str) -> str:
    """kustomization.yaml text with ``resource`` appended to ``resources`` (created when missing)."""
    path = safe_join(repo, kustomization_rel)
    if not path.exists():
        return yamlio.dump({"apiVersion": KUSTOMIZE_API, "kind": "Kustomization", "resources": [resource]})
    text = yamlio.read_text(path, display=kustomization_rel)
    yamlio.load_all(text, kustomization_rel)
    y = _rt()
    doc = y.load(text)
    if not isinstance(doc, dict):
        raise FleetError("not a kustomization (expected a mapping)", file=kustomization_rel)
    resources = doc.get("resources")
    if resources is None:
        doc["resources"] = [resource]
    elif not isinstance(resources, list):
        raise FleetError("`resources` must be a list", file=kustomization_rel, field="resources")
    elif resource not in resources:
        resources.append(resource)
    out = io.StringIO()
    y.dump(doc, out)
    return out.getvalue()


def _new_file(repo: Path, rel: str) -> None:
    if safe_join(repo, rel).exists():
        raise FleetError(f"{rel} already exists; fluxfleet does not overwrite it", file=rel)


def add_secret_store(repo: Path, fleet: Fleet, spec: StoreSpec, folder: str) -> list[str]:
    folder = str(check_relative(folder, field="--path"))
    rel = f"{folder}/{spec.name}.yaml"
    _new_file(repo, rel)
    manifest = yamlio.dump(store_manifest(fleet, spec))
    plan = {
        rel: manifest,
        f"{folder}/kustomization.yaml": _with_resource(
            repo, f"{folder}/kustomization.yaml", f"{spec.name}.yaml"
        ),
    }
    write_plan(repo, plan)
    return sorted(plan)


def add_external_secret(repo: Path, fleet: Fleet, spec: ExternalSecretSpec) -> list[str]:
    app = fleet.app(spec.app)
    fleet.env(spec.env)
    overlay = f"{app.repo_path}/overlays/{spec.env}"
    if not safe_join(repo, overlay).is_dir():
        raise FleetError(
            f"the overlay {overlay} does not exist",
            hint="run `fluxfleet generate` first (it scaffolds app overlays)",
        )
    rel = f"{overlay}/{spec.name}.externalsecret.yaml"
    _new_file(repo, rel)
    manifest = yamlio.dump(external_secret_manifest(fleet, spec, app.namespace))
    kustomization = f"{overlay}/kustomization.yaml"
    plan = {rel: manifest, kustomization: _with_resource(repo, kustomization, Path(rel).name)}
    write_plan(repo, plan)
    return sorted(plan)


def known_stores(repo: Path, kind: StoreKind) -> set[str]:
    """Names of the ``kind`` stores defined anywhere in the repository's YAML files."""
    names: set[str] = set()
    for path in sorted(repo.rglob("*.y*ml")):
        if ".git" in path.parts or not path.is_file() or path.is_symlink():
            continue
        try:
            text = path.read_text(encoding="utf-8")
            if kind.value not in text:
                continue
            docs = yamlio.load_all(text, str(path))
        except (OSError, UnicodeDecodeError, FleetError):
            continue  # a broken file is reported by check and build, not by a scaffolding helper
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind") == kind.value:
                name = (doc.get("metadata") or {}).get("name")
                if isinstance(name, str):
                    names.add(name)
    return names
