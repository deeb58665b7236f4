"""Flux objects the walker follows: Kustomizations and their sources, read from plain dicts."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluxfleet.errors import FleetError
from fluxfleet.render.files import FileTree, norm

KS_GROUP = "kustomize.toolkit.fluxcd.io"
SOURCE_GROUP = "source.toolkit.fluxcd.io"
SOURCE_KINDS = ("GitRepository", "OCIRepository", "Bucket", "ExternalArtifact")


def is_flux_kustomization(body: dict[str, Any]) -> bool:
    return body.get("kind") == "Kustomization" and str(body.get("apiVersion") or "").startswith(
        KS_GROUP + "/"
    )


@dataclass(frozen=True, order=True)
class SourceRef:
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"


@dataclass(frozen=True)
class FluxKustomization:
    name: str
    namespace: str
    spec: dict[str, Any]
    file: str | None = None
    spec_is_mapping: bool = True  # False: the object's spec was missing, null or not a mapping
    line: int | None = None  # where its document starts in ``file``

    @classmethod
    def of(cls, body: dict[str, Any], file: str | None = None, line: int | None = None) -> FluxKustomization:
        meta = body.get("metadata") or {}
        spec = body.get("spec")
        return cls(
            name=str(meta.get("name") or ""),
            namespace=str(meta.get("namespace") or ""),
            spec=spec if isinstance(spec, dict) else {},
            file=file,
            spec_is_mapping=isinstance(spec, dict),
            line=line,
        )

    def spec_problem(self) -> str | None:
        """Why the API server would reject this Kustomization's spec (None: it is usable)."""
        if not self.spec_is_mapping:
            return "spec is missing or not a mapping"
        ref = self.spec.get("sourceRef")
        if not isinstance(ref, dict):
            return "spec.sourceRef is missing or not a mapping"
        kind = ref.get("kind")
        if kind not in SOURCE_KINDS:
            return f"spec.sourceRef.kind must be one of {', '.join(SOURCE_KINDS)} (found {kind!r})"
        name = ref.get("name")
        if not isinstance(name, str) or not name:
            return "spec.sourceRef.name is missing"
        for key in ("path", "namespace"):
            value = ref.get(key) if key == "namespace" else self.spec.get(key)
            if value is not None and not isinstance(value, str):
                where = "spec.sourceRef.namespace" if key == "namespace" else "spec.path"
                return f"{where} must be a string"
        return _shape_problem(self.spec)

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def source_ref(self) -> SourceRef:
        ref = self.spec.get("sourceRef") or {}
        if not isinstance(ref, dict):
            ref = {}
        return SourceRef(
            str(ref.get("kind") or "GitRepository"),
            str(ref.get("namespace") or self.namespace),
            str(ref.get("name") or ""),
        )

    @property
    def path(self) -> str | None:
        """Root-relative build path ('' = root); None when it escapes the root."""
        return norm(str(self.spec.get("path") or ""))

    @property
    def suspended(self) -> bool:
        return self.spec.get("suspend") is True


class Sources:
    """Which source roots the render can read: the repository itself and mapped folders."""

    def __init__(self, repo: FileTree, mappings: dict[str, Path] | None = None) -> None:
        self.repo = repo
        self.mappings = dict(mappings or {})
        self.repo_refs: set[SourceRef] = set()
        self._trees: dict[str, FileTree] = {}
        # ExternalArtifacts that ArtifactGenerators of the render make (see artifacts.py)
        self.generated: dict[SourceRef, Any] = {}
        self.artifact_errors: dict[SourceRef, str] = {}
        self._staged: dict[SourceRef, FileTree | None] = {}
        self.scratch: str | None = None  # private folder for staged artifacts, removed by close()

    def tree_for(self, ref: SourceRef) -> FileTree | None:
        if ref in self.repo_refs:
            return self.repo
        for key in (str(ref), f"{ref.kind}/{ref.name}", f"{ref.namespace}/{ref.name}", ref.name):
            target = self.mappings.get(key)
            if target is not None:
                return self.tree_at(str(target), key)
        if ref.kind == "ExternalArtifact" and ref in self.generated:
            return self._artifact(ref)
        return None

    def add_generator(self, body: dict[str, Any]) -> None:
        from fluxfleet.render import artifacts

        for item in artifacts.artifacts_of(body):
            self.generated.setdefault(SourceRef("ExternalArtifact", item.namespace, item.name), item)

    def _artifact(self, ref: SourceRef) -> FileTree | None:
        from fluxfleet.render import artifacts

        if ref in self._staged:
            return self._staged[ref]
        self._staged[ref] = None  # a generator that reads its own artifact stops here
        if self.scratch is None:
            self.scratch = tempfile.mkdtemp(prefix="fluxfleet-artifacts-")
        staging = artifacts.new_staging(self.scratch)
        try:
            artifacts.stage(self.generated[ref], lambda src: self.tree_for(SourceRef(*src)), staging)
        except (artifacts.ArtifactError, FleetError, OSError) as exc:
            message = exc.message if isinstance(exc, FleetError) else str(exc)
            self.artifact_errors[ref] = f"{self.generated[ref].generator}: {message}"
            return None
        tree = self.tree_at(str(staging), str(ref))
        self._staged[ref] = tree
        return tree

    def close(self) -> None:
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None

    def tree_at(self, root: str, label: str = "") -> FileTree:
        """The tree of a mapped folder (its ``role`` in recorded reads is ``root``)."""
        tree = self._trees.get(root)
        if tree is None:
            tree = FileTree(Path(root), label=label, parsed=self.repo.parsed)
            tree.role = root
            self._trees[root] = tree
        return tree

    def tree_of_role(self, role: str) -> FileTree:
        return self.repo if role == "" else self.tree_at(role)


def parse_source_mappings(values: list[str], repo: Path, origin: str = "--source") -> dict[str, Path]:
    """``NAME=PATH`` items (NAME: name, ns/name or Kind/ns/name; PATH relative to the repo or absolute)."""
    out: dict[str, Path] = {}
    for item in values:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise FleetError(
                f"{origin} {item!r} must look like NAME=PATH", hint="e.g. --source dev-team=../dev-team"
            )
        target = Path(path.strip())
        target = (repo / target).resolve() if not target.is_absolute() else target.resolve()
        if not target.is_dir():
            raise FleetError(f"{origin} {item!r}: {target} is not a directory")
        out[name.strip()] = target
    return out


# The list and map fields of a Kustomization spec fluxfleet reads; the API server's OpenAPI schema
# refuses other types, so such an object never reaches the controller.
_SPEC_LISTS = ("patches", "images", "components", "dependsOn", "healthChecks")
_SPEC_MAPS = ("postBuild", "commonMetadata", "decryption", "kubeConfig")


def _shape_problem(spec: dict[str, Any]) -> str | None:
    try:
        json.dumps(spec)
    except (TypeError, ValueError):
        return "spec holds a value JSON cannot (a !!set, or a non-string key)"
    patches = spec.get("patches")
    for patch in patches if isinstance(patches, list) else []:
        if not isinstance(patch, dict) or not isinstance(patch.get("patch", ""), str):
            return "spec.patches[].patch must be a string"
    for key in _SPEC_LISTS:
        value = spec.get(key)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(i, dict | str) for i in value)
        ):
            return f"spec.{key} must be a list"
    for key in _SPEC_MAPS:
        value = spec.get(key)
        if value is not None and not isinstance(value, dict):
            return f"spec.{key} must be a mapping"
    post_build = spec.get("postBuild") or {}
    substitute_from = post_build.get("substituteFrom")
    if substitute_from is not None and not (
        isinstance(substitute_from, list) and all(isinstance(i, dict) for i in substitute_from)
    ):
        return "spec.postBuild.substituteFrom must be a list of {kind, name} references"
    substitute = post_build.get("substitute")
    if substitute is not None and not isinstance(substitute, dict):
        return "spec.postBuild.substitute must be a mapping"
    return None
