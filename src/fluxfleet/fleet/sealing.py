"""The Sealed Secrets sealing certificate recorded in fleet.yaml (``sealingCertificate``).

Only the public certificate is ever recorded; it is checked to be a PEM X.509 certificate with an
RSA key when fleet.yaml is loaded, so a pasted private key or a truncated block fails there.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

MAX_CERT_CHARS = 16 * 1024


def _certificate(v: str) -> str:
    # imported here: most commands never meet a certificate, and cryptography takes ~40 ms to load
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa

    if "PRIVATE KEY" in v:
        raise ValueError("this is a private key: record only the public certificate (kubeseal --fetch-cert)")
    if len(v) > MAX_CERT_CHARS or "-----BEGIN CERTIFICATE-----" not in v:
        raise ValueError(
            "expected one PEM certificate (-----BEGIN CERTIFICATE----- ...), from kubeseal --fetch-cert"
        )
    try:
        cert = x509.load_pem_x509_certificate(v.encode())
    except ValueError as exc:
        raise ValueError(f"not a readable PEM certificate: {exc}") from None
    if not isinstance(cert.public_key(), rsa.RSAPublicKey):
        raise ValueError("the Sealed Secrets controller seals with RSA keys; this certificate is not RSA")
    return v


SealingCertificate = Annotated[str, AfterValidator(_certificate)]
