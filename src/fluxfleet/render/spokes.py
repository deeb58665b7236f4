"""Hub and spokes: what a Kustomization or HelmRelease with ``spec.kubeConfig`` applies belongs to
the remote cluster it names, not to the cluster running Flux.

A hub reconciles objects into spoke clusters through ``kubeConfig.secretRef`` (or
``configMapRef``), read in the object's own namespace. The render of a hub is split accordingly:
each spoke becomes its own cluster named ``<namespace>-<kubeConfig object name>`` (the same Secret
name is often reused per namespace), holding the Kustomizations and HelmReleases that target it and
everything under them; the hub keeps the rest. Checks that compare objects of one cluster (such as
conflicts) then never mix a spoke's objects with the hub's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fluxfleet.render.model import ClusterRender, KustomizationRender

HUB_LABEL = "fluxfleet.io/hub"


def kubeconfig_name(spec: dict[str, Any]) -> str | None:
    raw = spec.get("kubeConfig")
    if not isinstance(raw, dict):
        return None
    for field in ("secretRef", "configMapRef"):
        ref = raw.get(field)
        if isinstance(ref, dict) and ref.get("name"):
            return str(ref["name"])
    return None


def split(render: ClusterRender) -> list[ClusterRender]:
    """The hub's render and one render per spoke (just the hub when nothing targets a spoke)."""
    if not any(kubeconfig_name(ks.spec) for ks in render.kustomizations):
        return [render]
    parents = {ks.id: ks for ks in render.kustomizations if ks.kind != "HelmRelease"}
    memo: dict[str, str | None] = {}

    def target(ks: KustomizationRender, seen: frozenset[str] = frozenset()) -> str | None:
        key = f"{ks.kind}/{ks.id}"
        if key in memo:
            return memo[key]
        own = kubeconfig_name(ks.spec)
        if own is not None:
            found: str | None = f"{ks.namespace}-{own}"
        elif ks.parent and ks.parent in parents and ks.parent not in seen:
            found = target(parents[ks.parent], seen | {ks.id})
        else:
            found = None
        memo[key] = found
        return found

    groups: dict[str | None, list[KustomizationRender]] = {}
    owner: dict[tuple[str, str], str | None] = {}
    for ks in render.kustomizations:
        spoke = target(ks)
        groups.setdefault(spoke, []).append(ks)
        owner[(ks.kind, ks.id)] = spoke
    errors: dict[str | None, list[Any]] = {}
    for error in render.errors:
        spoke = owner.get(("HelmRelease", error.kustomization or ""))
        if spoke is None:
            spoke = owner.get(("Kustomization", error.kustomization or ""))
        errors.setdefault(spoke, []).append(error if spoke is None else replace(error, cluster=spoke))
    hub = replace(render, kustomizations=tuple(groups.get(None, ())), errors=tuple(errors.get(None, ())))
    out = [hub]
    for spoke in sorted(k for k in groups if k is not None):
        out.append(
            ClusterRender(
                cluster=spoke,
                path=render.path,
                labels={HUB_LABEL: render.cluster},
                kustomizations=tuple(groups[spoke]),
                errors=tuple(errors.get(spoke, ())),
            )
        )
    return out
