"""Secret -> SealedSecret (bitnami.com/v1alpha1) with an environment's sealing certificate.

Two sealers give the same format: ``kubeseal`` when it is on PATH, else a native one following
sealed-secrets' ``pkg/crypto`` hybrid scheme. Each value is sealed on its own:

    uint16 big-endian length of the RSA part || RSA-OAEP(SHA-256, label)(session key) || AES-256-GCM

with a fresh 32-byte session key per value (so the all-zero GCM nonce is used once per key), and
the OAEP label binding the value to its place by scope: ``namespace/name`` (strict), ``namespace``
(namespace-wide) or empty (cluster-wide). Plaintext never touches the disk: kubeseal reads it from
stdin, the native sealer works in memory.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from fluxfleet import proc, yamlio
from fluxfleet.errors import FleetError

if TYPE_CHECKING:  # cryptography is imported where it is used: it slows every CLI start by ~0.1 s
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa

SEALED_API = "bitnami.com/v1alpha1"
ANNOTATION_NS = "sealedsecrets.bitnami.com/"
CERT_ANNOTATION = "fluxfleet.dev/sealing-certificate"
SESSION_KEY_BYTES = 32
_NONCE = bytes(12)


class Scope(StrEnum):
    strict = "strict"
    namespace_wide = "namespace-wide"
    cluster_wide = "cluster-wide"


def label_for(scope: Scope, namespace: str, name: str) -> bytes:
    if scope is Scope.cluster_wide:
        return b""
    if scope is Scope.namespace_wide:
        return namespace.encode()
    return f"{namespace}/{name}".encode()


def scope_of(annotations: dict[str, Any] | None) -> Scope:
    """The scope a SealedSecret's template annotations declare (strict when none does)."""
    notes = annotations or {}
    if str(notes.get(ANNOTATION_NS + "cluster-wide")) == "true":
        return Scope.cluster_wide
    if str(notes.get(ANNOTATION_NS + "namespace-wide")) == "true":
        return Scope.namespace_wide
    return Scope.strict


def fingerprint(cert: x509.Certificate) -> str:
    """``sha256:<hex>`` of the certificate's DER bytes: names the certificate, reveals nothing."""
    from cryptography.hazmat.primitives import serialization

    return "sha256:" + hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def hybrid_encrypt(
    public_key: rsa.RSAPublicKey, plaintext: bytes, label: bytes, random: Callable[[int], bytes] = os.urandom
) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    session_key = random(SESSION_KEY_BYTES)
    wrapped = public_key.encrypt(
        session_key,
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label or None),
    )
    sealed = AESGCM(session_key).encrypt(_NONCE, plaintext, None)
    return len(wrapped).to_bytes(2, "big") + wrapped + sealed


@dataclass(frozen=True)
class SecretInput:
    """The parts of a Secret a SealedSecret keeps; ``values`` are raw bytes (data decoded)."""

    name: str
    namespace: str
    type: str
    labels: dict[str, str]
    annotations: dict[str, str]
    values: dict[str, bytes]
    immutable: bool | None = None


def read_secret(doc: Any, file: str, namespace: str | None = None) -> SecretInput:
    """A Secret document, checked: every problem names the file and the field."""

    def bad(message: str, field: str, hint: str | None = None) -> FleetError:
        return FleetError(message, file=file, field=field, hint=hint)

    if not isinstance(doc, dict) or doc.get("kind") != "Secret" or doc.get("apiVersion") != "v1":
        raise bad("expected one Secret (apiVersion: v1, kind: Secret)", "kind")
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise bad("the Secret has no metadata.name", "metadata.name")
    ns = namespace or meta.get("namespace")
    if not isinstance(ns, str) or not ns:
        raise bad(
            "the Secret has no namespace: a sealed value is bound to it",
            "metadata.namespace",
            hint="set metadata.namespace or pass --namespace",
        )
    if "sops" in doc:
        raise bad(
            "this Secret is sops-encrypted: decrypt it first (sealing it would seal ciphertext)", "sops"
        )
    values: dict[str, bytes] = {}
    data = doc.get("data") or {}
    string_data = doc.get("stringData") or {}
    if not isinstance(data, dict) or not isinstance(string_data, dict):
        raise bad("data and stringData must be maps of key -> value", "data")
    for key, value in data.items():
        try:
            values[str(key)] = base64.b64decode(str(value), validate=True)
        except ValueError:
            raise bad(f"data.{key} is not base64 (put plain text under stringData)", f"data.{key}") from None
    for key, value in string_data.items():
        values[str(key)] = str(value).encode()  # stringData wins, as the API server merges it
    if not values:
        raise bad("the Secret has no values to seal", "data")

    def strings(field: str) -> dict[str, str]:
        got = meta.get(field) or {}
        if not isinstance(got, dict):
            raise bad(f"metadata.{field} must be a map", f"metadata.{field}")
        return {str(k): str(v) for k, v in got.items()}

    immutable = doc.get("immutable")
    return SecretInput(
        name=meta["name"],
        namespace=ns,
        type=str(doc.get("type") or "Opaque"),
        labels=strings("labels"),
        annotations=strings("annotations"),
        values=values,
        immutable=immutable if isinstance(immutable, bool) else None,
    )


def _scope_annotations(scope: Scope) -> dict[str, str]:
    if scope is Scope.strict:
        return {}
    return {ANNOTATION_NS + scope.value: "true"}


def sealed_secret(
    secret: SecretInput, scope: Scope, encrypted: dict[str, str], cert_id: str
) -> dict[str, Any]:
    notes = _scope_annotations(scope)
    template_meta: dict[str, Any] = {"name": secret.name, "namespace": secret.namespace}
    template_annotations = {**secret.annotations, **notes}
    if secret.labels:
        template_meta["labels"] = dict(sorted(secret.labels.items()))
    if template_annotations:
        template_meta["annotations"] = dict(sorted(template_annotations.items()))
    template: dict[str, Any] = {"metadata": template_meta, "type": secret.type}
    if secret.immutable is not None:
        template["immutable"] = secret.immutable
    return {
        "apiVersion": SEALED_API,
        "kind": "SealedSecret",
        "metadata": {
            "name": secret.name,
            "namespace": secret.namespace,
            "annotations": dict(sorted({**notes, CERT_ANNOTATION: cert_id}.items())),
        },
        "spec": {"encryptedData": dict(sorted(encrypted.items())), "template": template},
    }


class Sealer(Protocol):
    name: str

    def seal(self, secret: SecretInput, scope: Scope, cert_pem: str) -> dict[str, Any]: ...


class NativeSealer:
    name = "native"

    def __init__(self, random: Callable[[int], bytes] = os.urandom) -> None:
        self._random = random

    def seal(self, secret: SecretInput, scope: Scope, cert_pem: str) -> dict[str, Any]:
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import rsa

        cert = x509.load_pem_x509_certificate(cert_pem.encode())
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise FleetError("the sealing certificate has no RSA key")
        label = label_for(scope, secret.namespace, secret.name)
        encrypted = {
            k: base64.b64encode(hybrid_encrypt(key, v, label, self._random)).decode()
            for k, v in secret.values.items()
        }
        return sealed_secret(secret, scope, encrypted, fingerprint(cert))


class KubesealSealer:
    """The real ``kubeseal``, offline: ``--cert`` from fleet.yaml, the Secret on stdin."""

    name = "kubeseal"

    def __init__(self, binary: str) -> None:
        self.binary = binary

    def command(self, cert_file: str, scope: Scope) -> list[str]:
        return [
            self.binary,
            "--cert",
            cert_file,
            "--scope",
            scope.value,
            "--format",
            "yaml",
            "--allow-empty-data",
        ]

    def seal(self, secret: SecretInput, scope: Scope, cert_pem: str) -> dict[str, Any]:
        doc = kubeseal_input(secret)
        with tempfile.TemporaryDirectory(prefix="fluxfleet-seal-") as tmp:
            cert_file = Path(tmp) / "cert.pem"  # the public certificate only
            cert_file.write_text(cert_pem)
            result = proc.run(
                self.command(str(cert_file), scope),
                input=yamlio.dump(doc).encode(),
                timeout=60,
                what="kubeseal",
            )
        return adopt_kubeseal_output(result.text, cert_pem)


def kubeseal_input(secret: SecretInput) -> dict[str, Any]:
    """The Secret as kubeseal reads it on stdin (values base64 under ``data``)."""
    meta: dict[str, Any] = {"name": secret.name, "namespace": secret.namespace}
    if secret.labels:
        meta["labels"] = secret.labels
    if secret.annotations:
        meta["annotations"] = secret.annotations
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": secret.type,
        "data": {k: base64.b64encode(v).decode() for k, v in secret.values.items()},
    }


def adopt_kubeseal_output(text: str, cert_pem: str) -> dict[str, Any]:
    """kubeseal's SealedSecret, with the certificate it was sealed with recorded like ours."""
    docs = [d for d in yamlio.load_all(text, "kubeseal output") if d]
    if len(docs) != 1 or not isinstance(docs[0], dict) or docs[0].get("kind") != "SealedSecret":
        raise FleetError("kubeseal did not print one SealedSecret")
    from cryptography import x509

    doc: dict[str, Any] = docs[0]
    meta = doc.setdefault("metadata", {})
    meta.pop("creationTimestamp", None)
    (doc.get("spec", {}).get("template", {}).get("metadata") or {}).pop("creationTimestamp", None)
    meta.setdefault("annotations", {})[CERT_ANNOTATION] = fingerprint(
        x509.load_pem_x509_certificate(cert_pem.encode())
    )
    return doc


def choose_sealer(preference: str) -> Sealer:
    """``auto``: kubeseal when on PATH, else native; ``kubeseal``/``native`` force one."""
    if preference not in ("auto", "kubeseal", "native"):
        raise FleetError(f"unknown sealer {preference!r}", hint="use auto, kubeseal or native")
    if preference == "native":
        return NativeSealer()
    binary = proc.find_tool("kubeseal")
    if binary is None:
        if preference == "kubeseal":
            raise FleetError("kubeseal is not on PATH", hint="install kubeseal or use --sealer native")
        return NativeSealer()
    return KubesealSealer(binary)


def cert_expiry(cert_pem: str) -> datetime:
    from cryptography import x509

    return x509.load_pem_x509_certificate(cert_pem.encode()).not_valid_after_utc.astimezone(UTC)
