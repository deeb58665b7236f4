"""Secrets in git are SOPS-encrypted, and Kustomizations applying them can decrypt."""

from __future__ import annotations

from check.helpers import cluster, dump, findings, ks

PLAIN = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "db", "namespace": "a"},
    "stringData": {"password": "pw"},
}
SOPS = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "db", "namespace": "a"},
    "data": {"password": "ENC[AES256_GCM,data:abc,iv:x,tag:y,type:str]"},
    "sops": {"age": [{"recipient": "age1x", "enc": "..."}], "mac": "ENC[...]", "version": "3.9.0"},
}


def test_plaintext_secret_is_critical_and_value_not_shown() -> None:
    found = findings(cluster(dump(PLAIN)), "secret-plaintext")
    assert len(found) == 1 and found[0].severity.value == "critical" and "pw" not in found[0].message.split()
    assert findings(cluster(dump(SOPS)), "secret-plaintext") == []


def test_encrypted_secrets_need_decryption_on_their_kustomization() -> None:
    found = findings(cluster(ks(dump(SOPS), spec={"path": "./apps"})), "flux-sops-decryption")
    assert len(found) == 1 and "spec.decryption" in found[0].message
    with_dec = ks(dump(SOPS), spec={"decryption": {"provider": "sops", "secretRef": {"name": "sops-age"}}})
    assert findings(cluster(with_dec), "flux-sops-decryption") == []


def test_sops_encrypted_non_secret_needs_decryption() -> None:
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "a"},
        "data": {"token": "ENC[AES256_GCM,data:abc,iv:x,tag:y,type:str]"},
        "sops": {
            "age": [{"recipient": "age1x", "enc": "..."}],
            "mac": "ENC[AES256_GCM,data:m]",
            "version": "3.9.0",
        },
    }
    found = findings(cluster(ks(dump(config), spec={"path": "./apps"})), "flux-sops-non-secret")
    assert len(found) == 1 and "ConfigMap/a/settings" in found[0].message
    with_dec = ks(dump(config), spec={"decryption": {"provider": "sops", "secretRef": {"name": "sops-age"}}})
    assert findings(cluster(with_dec), "flux-sops-non-secret") == []
    assert findings(cluster(ks(dump(SOPS), spec={"path": "./apps"})), "flux-sops-non-secret") == []
