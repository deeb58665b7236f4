"""Test-only: open a sealed value from the format's description, with PyCryptodome (not the
`cryptography` package the production sealer uses), so a shared mistake cannot hide.

Format (sealed-secrets pkg/crypto): 2-byte big-endian length N, N bytes of RSA-OAEP(SHA-256, MGF1
SHA-256, label) ciphertext of a 32-byte AES key, then AES-256-GCM (12-byte zero nonce, 16-byte tag
at the end) ciphertext of the value.
"""

from __future__ import annotations

import base64

from Cryptodome.Cipher import AES, PKCS1_OAEP
from Cryptodome.Hash import SHA256
from Cryptodome.PublicKey import RSA


def unseal(private_pem: bytes, sealed_b64: str, label: bytes) -> bytes:
    blob = base64.b64decode(sealed_b64)
    size = int.from_bytes(blob[:2], "big")
    wrapped, sealed = blob[2 : 2 + size], blob[2 + size :]
    key = RSA.import_key(private_pem)
    session = PKCS1_OAEP.new(key, hashAlgo=SHA256, label=label).decrypt(wrapped)
    assert len(session) == 32
    cipher = AES.new(session, AES.MODE_GCM, nonce=bytes(12))
    return cipher.decrypt_and_verify(sealed[:-16], sealed[-16:])
