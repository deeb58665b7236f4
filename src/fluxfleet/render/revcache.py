"""A persistent cache of the renders of committed revisions, so ``diff`` does not re-render its base.

An entry is the whole render of one commit (every cluster with what its walk read), under a key
made of the commit id, the repository subfolder, the render options that change output, the
kustomize engine, the helm binary, the fluxfleet version and the cluster/path filters: a commit never
changes, so an entry is never stale. Renders that read mapped folders (``--source``, fleet.yaml
``spec.sources``) are never stored, since those folders are not part of the commit. Entries are JSON
(no pickle), written atomically; an unreadable or damaged entry counts as a miss.

Secrets: a render never decrypts, but a ClusterRender holds a plaintext Secret committed to git with
its values (masking happens only when output is printed, and ``diff`` must compare the real values
to say whether one changed). So a revision in which any Secret holds a value other than Flux's SOPS
placeholders is not stored at all: no Secret value is ever written to the cache directory (and
without such Secrets, no substituteFrom or valuesFrom can carry one into another object either).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import platformdirs

from fluxfleet import __version__
from fluxfleet.objects import K8sObject, ObjectKey, Provenance
from fluxfleet.render import secrets
from fluxfleet.render.files import Reads
from fluxfleet.render.model import (
    ClusterRender,
    HelmReleaseInfo,
    KsStatus,
    KustomizationRender,
    RenderError,
)
from fluxfleet.render.walker import Rendered

FORMAT = "v1"


def default_dir() -> Path:
    return Path(platformdirs.user_cache_dir("fluxfleet")) / f"renders-{FORMAT}"


def revision_key(**parts: Any) -> str:
    payload = json.dumps([FORMAT, __version__, parts], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


class RevisionCache:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_dir()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> tuple[str, list[Rendered]] | None:
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                return None
            rendered = [
                Rendered(str(c["spec"]), _reads_from(c["reads"]), _render_from(c["render"]))
                for c in data["clusters"]
            ]
            return str(data["context"]), rendered
        except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError):
            return None

    def put(self, key: str, context: str, rendered: list[Rendered]) -> bool:
        """Store a revision's render; False (nothing written) when it must not or cannot be stored."""
        if any(_holds_secret_values(r.render) for r in rendered):
            return False
        clusters = []
        for entry in rendered:
            data = _render_to(entry.render)
            # JSON must give back exactly what was rendered (YAML allows non-string keys, for one).
            if json.loads(json.dumps(data)) != data:
                return False
            clusters.append({"spec": entry.spec_key, "reads": _reads_to(entry.reads), "render": data})
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".entry.", dir=target.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump({"format": FORMAT, "context": context, "clusters": clusters}, fh)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            return False  # a cache that cannot be written only costs speed
        return True


def _holds_secret_values(render: ClusterRender) -> bool:
    bodies = [o.body for ks in render.kustomizations for o in ks.objects]
    bodies += [o.body for hr in render.helmreleases for o in hr.objects]
    return any(secrets.holds_values(body) for body in bodies)


def _reads_to(reads: Reads) -> list[list[Any]]:
    return [[role, op, rel, value] for (role, op, rel), value in reads.items()]


def _reads_from(raw: list[list[Any]]) -> Reads:
    reads: Reads = {}
    for role, op, rel, value in raw:
        if op == "d":
            value = [(str(name), bool(is_dir)) for name, is_dir in value]
        elif op not in ("f", "m"):
            raise ValueError(f"unknown read {op!r}")
        reads[(str(role), str(op), str(rel))] = value
    return reads


def _objects_to(objects: tuple[K8sObject, ...]) -> list[Any]:
    return [
        [
            [o.key.group, o.key.version, o.key.kind, o.key.namespace, o.key.name],
            o.body,
            [o.source.file, o.source.line, o.source.kustomization],
        ]
        for o in objects
    ]


def _objects_from(raw: list[Any]) -> tuple[K8sObject, ...]:
    return tuple(K8sObject(ObjectKey(*key), body, Provenance(*source)) for key, body, source in raw)


def _render_to(render: ClusterRender) -> dict[str, Any]:
    return {
        "cluster": render.cluster,
        "path": render.path,
        "labels": render.labels,
        "kustomizations": [
            {
                "name": ks.name,
                "namespace": ks.namespace,
                "spec": ks.spec,
                "status": ks.status.value,
                "path": ks.path,
                "source": ks.source,
                "parent": ks.parent,
                "reason": ks.reason,
                "file": ks.file,
                "line": ks.line,
                "objects": _objects_to(ks.objects),
                "kind": ks.kind,
                "warnings": list(ks.warnings),
                "build": ks.build,
                "content_key": ks.content_key,
            }
            for ks in render.kustomizations
        ],
        "errors": [[e.cluster, e.message, e.kustomization, e.file, e.line, e.column] for e in render.errors],
        "helmreleases": [
            {
                "name": hr.name,
                "namespace": hr.namespace,
                "chart": hr.chart,
                "version": hr.version,
                "source": hr.source,
                "values": list(hr.values),
                "kustomization": hr.kustomization,
                "rendered": hr.rendered,
                "reason": hr.reason,
                "objects": _objects_to(hr.objects),
            }
            for hr in render.helmreleases
        ],
    }


def _render_from(data: dict[str, Any]) -> ClusterRender:
    kustomizations = tuple(
        KustomizationRender(
            **{
                **ks,
                "status": KsStatus(ks["status"]),
                "objects": _objects_from(ks["objects"]),
                "warnings": tuple(ks["warnings"]),
            }
        )
        for ks in data["kustomizations"]
    )
    helmreleases = tuple(
        HelmReleaseInfo(**{**hr, "values": tuple(hr["values"]), "objects": _objects_from(hr["objects"])})
        for hr in data["helmreleases"]
    )
    return ClusterRender(
        cluster=data["cluster"],
        path=data["path"],
        labels=dict(data["labels"]),
        kustomizations=kustomizations,
        errors=tuple(RenderError(*e) for e in data["errors"]),
        helmreleases=helmreleases,
    )
