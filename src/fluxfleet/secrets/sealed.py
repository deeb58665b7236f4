"""Which sealing certificate seals for an environment or cluster, and what the repository has sealed.

Certificates come from fleet.yaml (``environments[].sealingCertificate``, overridden per cluster);
each SealedSecret carries the fingerprint of the certificate it was sealed with, so ``secrets
status`` can tell which are sealed for a certificate fleet.yaml no longer knows, or one that expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fluxfleet.errors import FleetError
from fluxfleet.fleet.load import Fleet
from fluxfleet.secrets.files import walk_files
from fluxfleet.secrets.sealing import CERT_ANNOTATION, cert_expiry, fingerprint, scope_of
from fluxfleet.secrets.status import _docs

EXPIRY_WARNING = timedelta(days=30)


@dataclass(frozen=True)
class Certificate:
    owner: str  # "environment dev" or "cluster dev-a"
    pem: str
    fingerprint: str
    expires: datetime


def _cert(owner: str, pem: str) -> Certificate:
    from cryptography import x509

    parsed = x509.load_pem_x509_certificate(pem.encode())
    return Certificate(owner, pem, fingerprint(parsed), cert_expiry(pem))


def certificate_for(fleet: Fleet, env: str, cluster: str | None = None) -> Certificate:
    """The certificate to seal with: the cluster's own, else its environment's."""
    environment = fleet.env(env)
    if cluster is not None:
        c = fleet.cluster(cluster)
        if c.environment != env:
            raise FleetError(f"cluster {cluster!r} is in environment {c.environment!r}, not {env!r}")
        if c.sealing_certificate:
            return _cert(f"cluster {cluster}", c.sealing_certificate)
    if environment.sealing_certificate:
        return _cert(f"environment {env}", environment.sealing_certificate)
    own = sorted(c.name for c in fleet.clusters_in(env) if c.sealing_certificate)
    hint = (
        f"these clusters have their own: {', '.join(own)} (pass --cluster)"
        if own and cluster is None
        else f"run `kubeseal --fetch-cert > cert.pem` against a {env} cluster and record it as "
        f"environments[{env}].sealingCertificate in fleet.yaml"
    )
    raise FleetError(f"no sealing certificate for {cluster or env!r} in fleet.yaml", hint=hint)


def known_certificates(fleet: Fleet) -> dict[str, Certificate]:
    out: dict[str, Certificate] = {}
    for env in fleet.environments:
        if env.sealing_certificate:
            cert = _cert(f"environment {env.name}", env.sealing_certificate)
            out.setdefault(cert.fingerprint, cert)
    for cluster in fleet.clusters:
        if cluster.sealing_certificate:
            cert = _cert(f"cluster {cluster.name}", cluster.sealing_certificate)
            out.setdefault(cert.fingerprint, cert)
    return out


@dataclass(frozen=True)
class SealedStatus:
    path: str
    name: str
    namespace: str
    scope: str
    keys: tuple[str, ...]
    certificate: str  # owner, or "unknown"
    state: str  # ok | expiring | expired | unknown-certificate
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "name": self.name,
            "namespace": self.namespace,
            "scope": self.scope,
            "keys": list(self.keys),
            "certificate": self.certificate,
            "state": self.state,
            "detail": self.detail,
        }


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def sealed_status(repo: Path, fleet: Fleet, now: datetime) -> list[SealedStatus]:
    certs = known_certificates(fleet)
    out: list[SealedStatus] = []
    for rel in walk_files(repo):
        if not rel.endswith((".yaml", ".yml")):
            continue
        for doc in _docs(repo, rel):
            if doc.get("kind") != "SealedSecret":
                continue
            meta = _map(doc.get("metadata"))
            spec = _map(doc.get("spec"))
            template = _map(spec.get("template"))
            tmeta = _map(template.get("metadata"))
            data = _map(spec.get("encryptedData"))
            notes = _map(meta.get("annotations"))
            scope = scope_of({**_map(tmeta.get("annotations")), **notes})
            print_ = str(notes.get(CERT_ANNOTATION, ""))
            cert = certs.get(print_)
            if cert is None:
                state, owner = "unknown-certificate", "unknown"
                detail = (
                    f"sealed with {print_}, which fleet.yaml does not record"
                    if print_
                    else "sealed outside fluxfleet: no certificate recorded"
                )
            else:
                owner = cert.owner
                state, detail = "ok", f"certificate expires {cert.expires:%Y-%m-%d}"
                if cert.expires <= now:
                    state, detail = (
                        "expired",
                        f"certificate expired {cert.expires:%Y-%m-%d}: re-seal with the new one",
                    )
                elif cert.expires - now <= EXPIRY_WARNING:
                    state = "expiring"
            out.append(
                SealedStatus(
                    rel,
                    str(meta.get("name", "")),
                    str(meta.get("namespace", "")),
                    scope.value,
                    tuple(sorted(map(str, data))),
                    owner,
                    state,
                    detail,
                )
            )
    return out
