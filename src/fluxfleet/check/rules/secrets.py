"""Secrets in git: every Secret is SOPS-encrypted (or comes from SealedSecrets/ExternalSecrets).

Only the shape is checked here (a ``sops`` block, ``ENC[...]`` values); recipients and MACs are
the secrets rules' business. Values are never read into messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fluxfleet.check.context import ClusterContext
from fluxfleet.check.model import Severity, Violation
from fluxfleet.check.registry import cluster_rule, object_rule
from fluxfleet.check.rules.flux_refs import KS_GROUP
from fluxfleet.objects import K8sObject
from fluxfleet.render.secrets import DOCKERCONFIG_MASK, DOCKERCONFIG_MASK_B64, SOPS_MASK, SOPS_MASK_B64


def is_sops_encrypted(body: dict[str, Any]) -> bool:
    if isinstance(body.get("sops"), dict):
        return True
    values = [
        v
        for f in ("data", "stringData")
        for v in ((body.get(f) or {}) if isinstance(body.get(f), dict) else {}).values()
    ]
    # Renders mask SOPS Secrets as `flux build` does (fluxfleet.render.secrets): the masks mean "encrypted in git".
    masks = (SOPS_MASK, SOPS_MASK_B64, DOCKERCONFIG_MASK, DOCKERCONFIG_MASK_B64)
    return bool(values) and all(isinstance(v, str) and (v.startswith("ENC[") or v in masks) for v in values)


def _has_values(body: dict[str, Any]) -> bool:
    return any(isinstance(body.get(f), dict) and body[f] for f in ("data", "stringData"))


@object_rule(
    "secret-plaintext",
    Severity.critical,
    hint="encrypt it with `fluxfleet secrets encrypt FILE` (SOPS), or use a SealedSecret/ExternalSecret",
    doc="a Secret in git carries plaintext data (not SOPS-encrypted)",
    category="secrets",
    kinds=("Secret",),
)
def secret_plaintext(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    if obj.key.group != "" or not _has_values(obj.body) or is_sops_encrypted(obj.body):
        return
    if obj.body.get("type") == "kubernetes.io/service-account-token":
        return
    yield Violation(f"{obj.key} holds unencrypted data", obj)


@cluster_rule(
    "flux-sops-decryption",
    Severity.high,
    hint="set spec.decryption: {provider: sops, secretRef: {name: sops-age}} on the Kustomization",
    doc="a Kustomization applies SOPS-encrypted Secrets but has no spec.decryption",
    category="secrets",
)
def flux_sops_decryption(ctx: ClusterContext) -> Iterator[Violation]:
    for ks in ctx.render.kustomizations:
        if isinstance(ks.spec.get("decryption"), dict):
            continue
        encrypted = [
            o
            for o in ks.objects
            if o.key.kind == "Secret"
            and is_sops_encrypted(o.body)
            and (
                ((o.body.get("metadata") or {}).get("annotations") or {}).get(
                    "kustomize.toolkit.fluxcd.io/decrypt"
                )
                or ""
            ).lower()
            != "disabled"
        ]
        if encrypted:
            objs = ctx.find(KS_GROUP, "Kustomization", ks.namespace, ks.name)
            yield Violation(
                f"Kustomization {ks.id} applies {len(encrypted)} SOPS-encrypted Secret(s) "
                f"(first: {encrypted[0].key}) without spec.decryption",
                objs[0] if objs else None,
                file=None if objs else ks.file,
            )
