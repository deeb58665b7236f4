"""Read SOPS metadata without any key: is a document encrypted, for whom, and is it Flux-safe.

Pure functions over parsed documents (and raw text for dotenv/binary stores). The rules follow
sops' own "is encrypted" test (a ``sops`` block with non-empty ``mac`` and ``version``) and the
kustomize-controller markers for generator inputs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

ENC_PREFIX = "ENC[AES256_GCM,"
_DOTENV_RECIPIENT = re.compile(r"^sops_age__list_\d+__map_recipient=(\S+)\s*$", re.MULTILINE)
_DOTENV_MAC = re.compile(r"^sops_mac=ENC\[", re.MULTILINE)
_KEY_TYPES = ("pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms")
_MARKERS = (b"mac: ENC[", b'"mac": "ENC[', b"sops_mac=ENC[")


@dataclass(frozen=True)
class SopsInfo:
    """What the metadata says. ``recipients`` are age recipients over all key groups."""

    encrypted: bool
    recipients: tuple[str, ...] = ()
    other_keys: tuple[str, ...] = ()  # non-age master key types present (pgp, kms, ...)
    version: str | None = None
    encrypted_regex: str | None = None
    problems: tuple[str, ...] = field(default=())


def sops_info(doc: dict[str, Any]) -> SopsInfo | None:
    """Metadata of a YAML/JSON document, or None when it has no ``sops`` block at all."""
    meta = doc.get("sops")
    if not isinstance(meta, dict):
        return None
    groups: list[dict[str, Any]] = [meta]
    key_groups = meta.get("key_groups")
    if isinstance(key_groups, list):
        groups += [g for g in key_groups if isinstance(g, dict)]
    recipients: list[str] = []
    others: set[str] = set()
    for group in groups:
        for entry in group.get("age") or []:
            if isinstance(entry, dict) and isinstance(entry.get("recipient"), str):
                recipients.append(entry["recipient"].strip())
        for key_type in _KEY_TYPES:
            if group.get(key_type):
                others.add(key_type)
    mac, version = meta.get("mac"), meta.get("version")
    encrypted = bool(mac) and bool(version)
    regex = meta.get("encrypted_regex")
    return SopsInfo(
        encrypted=encrypted,
        recipients=tuple(dict.fromkeys(recipients)),
        other_keys=tuple(sorted(others)),
        version=str(version) if version else None,
        encrypted_regex=str(regex) if isinstance(regex, str) else None,
        problems=() if encrypted else ("the sops block has no MAC or version",),
    )


def is_enc(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(ENC_PREFIX)


def _leaves(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    """``(path, value)`` of every scalar under ``node`` (``a.b[0].c`` paths)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, node


def plaintext_leaves(doc: dict[str, Any], roots: tuple[str, ...] = ("data", "stringData")) -> list[str]:
    """Paths of non-empty values under ``roots`` that are not ``ENC[…]`` (left in clear)."""
    return [
        path
        for root in roots
        if root in doc
        for path, value in _leaves(doc[root], root)
        if value not in (None, "") and not is_enc(value)
    ]


def encrypted_identity_fields(doc: dict[str, Any]) -> list[str]:
    """``apiVersion``/``kind``/``metadata.*`` values that are encrypted: Flux cannot apply those."""
    out = [k for k in ("apiVersion", "kind") if is_enc(doc.get(k))]
    return out + [path for path, value in _leaves(doc.get("metadata"), "metadata") if is_enc(value)]


def is_plaintext_secret(doc: dict[str, Any]) -> bool:
    """A ``kind: Secret`` carrying values and no (complete) sops block: not safe in git."""
    if doc.get("kind") != "Secret" or str(doc.get("apiVersion", "v1")) != "v1":
        return False
    if not (doc.get("data") or doc.get("stringData")):
        return False
    info = sops_info(doc)
    if info is not None and info.encrypted:
        return False
    # A value that is itself a SOPS document (kustomize-controller decrypts it per value) is fine.
    leaves = plaintext_leaves(doc)
    return bool(leaves) and not all(_holds_sops_value(doc, p) for p in leaves)


def _holds_sops_value(doc: dict[str, Any], path: str) -> bool:
    root, _, key = path.partition(".")
    value = (doc.get(root) or {}).get(key)
    if not isinstance(value, str):
        return False
    if root == "data":
        import base64
        import binascii

        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return False
    else:
        raw = value.encode()
    return any(m in raw for m in _MARKERS)


def has_marker(raw: bytes) -> bool:
    """kustomize-controller's test for "this generator input is SOPS-encrypted"."""
    return any(m in raw for m in _MARKERS)


def raw_info(raw: bytes, file_type: str) -> SopsInfo | None:
    """Metadata of a dotenv or binary (JSON envelope) sops file, or None when not encrypted."""
    text = raw.decode("utf-8", errors="replace")
    if file_type == "dotenv":
        if not _DOTENV_MAC.search(text):
            return None
        return SopsInfo(True, tuple(dict.fromkeys(_DOTENV_RECIPIENT.findall(text))))
    if file_type in ("binary", "json"):
        try:
            doc = json.loads(text)
        except ValueError:
            return None
        return sops_info(doc) if isinstance(doc, dict) else None
    return None
