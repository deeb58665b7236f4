"""Per-cluster HMAC keys for Flux's ``generic-hmac`` Provider.

The service reads them from a key file outside the repository (YAML, mode 0600)::

    clusters:
      prod-eu-1: 6f1c…   # 64 hex characters, the Secret's `token` byte for byte

Each cluster gets the same key as a SOPS-encrypted Secret in its folder of the repository, so only
that cluster (and the service) can sign its events.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from fluxfleet import yamlio
from fluxfleet.errors import FleetError
from fluxfleet.generate.service_wiring import SECRET_FILE, SECRET_NAME

__all__ = ["SECRET_FILE", "SECRET_NAME", "HmacKeys", "load_keys", "new_key", "secret_manifest", "write_keys"]


@dataclass(frozen=True)
class HmacKeys:
    keys: dict[str, bytes]

    def get(self, cluster: str) -> bytes | None:
        return self.keys.get(cluster)


def new_key() -> str:
    return secrets.token_hex(32)


def load_keys(path: Path) -> HmacKeys:
    if not path.is_file():
        raise FleetError(
            "no HMAC key file",
            file=str(path),
            hint="create the keys with `fluxfleet serve keys --keys FILE`",
        )
    if path.stat().st_mode & 0o077:
        raise FleetError(
            "the HMAC key file is readable by other users",
            file=str(path),
            hint=f"chmod 600 {path}",
        )
    docs = yamlio.load_file(path, display=str(path))
    data = docs[0] if docs else {}
    clusters = data.get("clusters") if isinstance(data, dict) else None
    if not isinstance(clusters, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(v) >= 32 for k, v in clusters.items()
    ):
        raise FleetError(
            "the key file must map `clusters` names to keys of at least 32 characters",
            file=str(path),
            field="clusters",
        )
    return HmacKeys({k: v.encode() for k, v in clusters.items()})


def write_keys(path: Path, keys: dict[str, str], repo: Path | None = None) -> None:
    """Write the key file atomically with mode 0600 (never inside the repository)."""
    target = path.expanduser().resolve()
    if repo is not None and target.is_relative_to(repo.resolve()):
        raise FleetError(
            "the HMAC key file must live outside the repository",
            file=str(path),
            hint="keep it with the service's configuration, e.g. /etc/fluxfleet/hmac-keys.yaml",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(yamlio.dump({"clusters": dict(sorted(keys.items()))}))
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def secret_manifest(key: str, namespace: str = "flux-system") -> bytes:
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET_NAME, "namespace": namespace},
        "type": "Opaque",
        "stringData": {"token": key},
    }
    return yamlio.dump(doc).encode()
