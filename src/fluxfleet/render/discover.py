"""Find the clusters of a repository and the root ``flux-system`` Kustomization of each.

Given a :class:`ClusterLayout` (a use case builds it from fleet.yaml), the clusters are the
declared ones in their folders. Without one, every folder holding a ``flux-system`` GitRepository/Kustomization pair (a
``gotk-sync.yaml`` as ``flux bootstrap`` writes it) is a cluster; a ``flux-system`` folder of
comment-only placeholders (as in Flux's example repositories) marks its parent folder as one, and
the root Kustomization is then synthesised exactly as bootstrap would have written it. A Flux
Operator ``FluxInstance`` whose ``spec.sync.path`` is a folder of the repository makes that folder a
cluster, with the root source and Kustomization the operator creates (see ``operator.py``).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fluxfleet.errors import FleetError, did_you_mean
from fluxfleet.render import operator
from fluxfleet.render.files import FileTree, norm
from fluxfleet.render.fluxks import SOURCE_GROUP, FluxKustomization, SourceRef, is_flux_kustomization

FLUX_NS = "flux-system"
# .fluxfleet-txn: the staging folder of an interrupted `generate`, never a cluster of its own.
_SKIP_DIRS = frozenset({".git", "node_modules", ".github", ".fluxfleet-txn"})


@dataclass(frozen=True)
class ClusterSpec:
    name: str
    path: str  # root-relative cluster folder
    root: FluxKustomization
    repo_source: SourceRef
    labels: dict[str, str] = field(default_factory=dict)
    synthesised: bool = False


def synthesise_root(path: str) -> FluxKustomization:
    spec: dict[str, Any] = {
        "interval": "10m0s",
        "path": f"./{path}" if path else "./",
        "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
    }
    return FluxKustomization("flux-system", FLUX_NS, spec, None)


def _bootstrap_pair(tree: FileTree, flux_dir: str) -> tuple[FluxKustomization | None, SourceRef | None]:
    """The flux-system Kustomization and its GitRepository defined in a flux-system folder."""
    ks: FluxKustomization | None = None
    git: SourceRef | None = None
    for name, is_dir in tree.listdir(flux_dir):
        if is_dir or not name.endswith((".yaml", ".yml")):
            continue
        rel = f"{flux_dir}/{name}"
        try:
            docs = tree.docs(rel)
        except FleetError:
            continue
        for doc in docs:
            if not isinstance(doc, dict):
                continue
            meta = doc.get("metadata") or {}
            if not isinstance(meta, dict) or meta.get("name") != "flux-system":
                continue
            if is_flux_kustomization(doc):
                ks = FluxKustomization.of(doc, rel)
            elif doc.get("kind") == "GitRepository" and str(doc.get("apiVersion", "")).startswith(
                SOURCE_GROUP
            ):
                git = SourceRef("GitRepository", str(meta.get("namespace") or FLUX_NS), "flux-system")
    return ks, git


def cluster_at(tree: FileTree, path: str, name: str, labels: dict[str, str] | None = None) -> ClusterSpec:
    flux_dir = f"{path}/flux-system" if path else "flux-system"
    ks, git = _bootstrap_pair(tree, flux_dir) if tree.is_dir(flux_dir) else (None, None)
    if ks is None:
        root = synthesise_root(path)
        return ClusterSpec(name, path, root, root.source_ref, dict(labels or {}), synthesised=True)
    return ClusterSpec(name, path, ks, git or ks.source_ref, dict(labels or {}))


def _name_for(path: str) -> str:
    trimmed = path.removeprefix("clusters/") if path != "clusters" else path
    return trimmed.replace("/", "-") or "root"


def scan(tree: FileTree) -> list[ClusterSpec]:
    """Clusters of a repository without fleet.yaml."""
    found: dict[str, ClusterSpec] = {}

    def walk(directory: str) -> None:
        for name, is_dir in tree.listdir(directory):
            if not is_dir or name in _SKIP_DIRS:
                continue
            rel = f"{directory}/{name}" if directory else name
            if name == "flux-system":
                ks, _ = _bootstrap_pair(tree, rel)
                placeholders = any(n.startswith("gotk-") for n, d in tree.listdir(rel) if not d)
                if ks is not None:
                    cluster_path = ks.path if ks.path is not None else directory
                    found.setdefault(cluster_path, cluster_at(tree, directory, _name_for(directory)))
                elif placeholders:
                    found.setdefault(directory, cluster_at(tree, directory, _name_for(directory)))
                continue
            walk(rel)

    walk("")
    for instance in operator.instances(tree):
        path = instance.path
        if path is None or not tree.is_dir(path):
            continue
        current = found.get(path)
        if current is None or current.synthesised:  # the instance says more than placeholders
            found[path] = ClusterSpec(_name_for(path), path, instance.root(), instance.source())
    return [found[k] for k in sorted(found)]


# Every layout scan() recognises, for the "no clusters found" hint.
LAYOUTS = (
    "fleet.yaml clusters",
    "flux bootstrap folders (flux-system/ with the flux-system GitRepository and Kustomization)",
    "flux-system/ folders of gotk-*.yaml placeholders (Flux's example repositories)",
    "Flux Operator FluxInstance spec.sync (an object, or flux-instance chart values in a HelmRelease)",
)


@dataclass(frozen=True)
class ClusterPlace:
    """Where a declared cluster lives: its name, repository folder and labels."""

    name: str
    folder: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ClusterLayout:
    """The clusters a repository declares, and its Flux sources mapped to repository folders.

    Render takes this instead of reading a fleet definition: the caller (a use case) turns its
    fleet into a layout, so render works the same on repositories fluxfleet did not generate.
    """

    clusters: tuple[ClusterPlace, ...]
    sources: dict[str, str] = field(default_factory=dict)
    origin: str = "fleet.yaml"  # names the declaration in errors about ``sources``


def from_layout(tree: FileTree, layout: ClusterLayout) -> list[ClusterSpec]:
    return [cluster_at(tree, c.folder, c.name, dict(c.labels)) for c in layout.clusters]


def discover(
    tree: FileTree,
    repo: Path,
    *,
    paths: list[str] | None = None,
    names: list[str] | None = None,
    layout: ClusterLayout | None = None,
) -> list[ClusterSpec]:
    """The clusters to render, filtered by ``names``; raises FleetError for unknown names."""
    if paths:
        clusters = []
        for raw in paths:
            rel = norm(raw)
            if rel is None or not tree.is_dir(rel):
                raise FleetError(f"--path {raw!r} is not a folder inside the repository")
            clusters.append(cluster_at(tree, rel, _name_for(rel) if rel else posixpath.basename(str(repo))))
    else:
        clusters = from_layout(tree, layout) if layout is not None else scan(tree)
    if names:
        known = {c.name for c in clusters}
        for name in names:
            if name not in known:
                raise FleetError(
                    f"unknown cluster {name!r}",
                    hint=did_you_mean(name, known)
                    or f"clusters: {', '.join(sorted(known)) or '(none found)'}",
                )
        clusters = [c for c in clusters if c.name in set(names)]
    return clusters
