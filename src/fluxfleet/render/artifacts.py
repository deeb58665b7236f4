"""ArtifactGenerators (source-watcher, Flux 2.7+) resolved offline into the ExternalArtifacts they make.

An ArtifactGenerator (``source.extensions.fluxcd.io/v1beta1``) copies files from its ``sources``
(aliases of GitRepositories, OCIRepositories, Buckets... of this render) into one artifact per
``artifacts[]`` item, an ExternalArtifact of that name in the generator's namespace. When every
source of an artifact maps to a folder (this repository, or ``--source``), the artifact is staged
here by the same copy rules, so Kustomizations and HelmReleases reading it are rendered instead of
being called external:

- ``copy`` operations run in order, later ones overwrite; ``from: "@alias/<path or glob>"``,
  ``to: "@artifact/<path>"``;
- a file to a ``to`` ending in ``/`` (or an existing folder) keeps its name; a folder is copied as
  ``<to>/<folder name>``; glob matches (Go ``fs.Glob``: ``*`` stays inside one path segment) keep
  their path, minus the ``dir/`` of a ``dir/**`` pattern; no match is an error;
- ``exclude`` patterns are relative to the non-glob prefix of ``from``; a pattern without ``/``
  matches a name at any depth;
- ``strategy: Merge`` deep-merges YAML maps into an existing file (lists replaced); ``Extract``
  (untar) is not supported offline and says so.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluxfleet import yamlio
from fluxfleet.errors import FleetError
from fluxfleet.render.files import FileTree, norm

GROUP = "source.extensions.fluxcd.io"
_GLOB_CHARS = re.compile(r"[*?\[\]]")


class ArtifactError(Exception):
    """The artifact cannot be staged offline; the message says why."""


def is_generator(body: Mapping[str, Any]) -> bool:
    return body.get("kind") == "ArtifactGenerator" and str(body.get("apiVersion") or "").startswith(
        GROUP + "/"
    )


@dataclass(frozen=True)
class Generated:
    """One artifact of a generator: what to copy, from which source aliases."""

    namespace: str
    name: str
    copy: tuple[dict[str, Any], ...]
    sources: dict[str, tuple[str, str, str]]  # alias -> (kind, namespace, name)
    generator: str  # "namespace/name" of the ArtifactGenerator


def artifacts_of(body: Mapping[str, Any]) -> list[Generated]:
    meta = body.get("metadata") or {}
    namespace = str(meta.get("namespace") or "")
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    sources: dict[str, tuple[str, str, str]] = {}
    for src in (spec or {}).get("sources") or []:
        if isinstance(src, dict) and src.get("alias"):
            sources[str(src["alias"])] = (
                str(src.get("kind") or ""),
                str(src.get("namespace") or namespace),
                str(src.get("name") or ""),
            )
    out = []
    for item in (spec or {}).get("artifacts") or []:
        if isinstance(item, dict) and item.get("name"):
            copies = tuple(c for c in item.get("copy") or [] if isinstance(c, dict))
            out.append(
                Generated(
                    namespace, str(item["name"]), copies, sources, f"{namespace}/{meta.get('name', '')}"
                )
            )
    return out


def _glob(tree: FileTree, root: str, pattern: str) -> list[str]:
    """Go ``fs.Glob`` over a tree: each segment matched on its own; returns root-relative paths."""
    found = [""]
    for segment in pattern.split("/"):
        if not segment:
            continue
        nxt = []
        for base in found:
            where = f"{root}/{base}".strip("/") if base else root
            if not _GLOB_CHARS.search(segment):
                cand = f"{base}/{segment}".strip("/")
                if tree.exists(f"{root}/{cand}".strip("/")):
                    nxt.append(cand)
                continue
            for name, _ in tree.listdir(where):
                if fnmatch.fnmatchcase(name, segment):
                    nxt.append(f"{base}/{name}".strip("/"))
        found = nxt
    return sorted(found)


def _excluded(rel: str, base: str, patterns: list[str]) -> bool:
    if not patterns:
        return False
    rel_to_base = posixpath.relpath(rel, base) if base not in ("", ".") else rel
    for pattern in patterns:
        if "/" not in pattern:
            if any(fnmatch.fnmatchcase(part, pattern) for part in rel_to_base.split("/")):
                return True
        elif fnmatch.fnmatchcase(rel_to_base, pattern.replace("**/", "*").replace("/**", "/*")):
            return True
    return False


class _Stage:
    def __init__(self, tree: FileTree, root: str, staging: Path, op: dict[str, Any]) -> None:
        self.tree, self.root, self.staging, self.op = tree, root, staging, op
        self.exclude = [str(p) for p in op.get("exclude") or []]
        self.merge = op.get("strategy") == "Merge"

    def _dest(self, rel: str) -> Path:
        clean = norm(rel)
        if clean is None:
            raise ArtifactError(f"copy destination {rel!r} leaves the artifact")
        return self.staging / clean if clean else self.staging

    def file(self, src: str, dest: str) -> None:
        data = self.tree.read(f"{self.root}/{src}".strip("/"))[0]
        target = self._dest(dest)
        if self.merge and target.is_file():
            data = _merge_yaml(target.read_bytes(), data, dest)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def folder(self, src: str, dest: str, base: str) -> None:
        self._dest(dest).mkdir(parents=True, exist_ok=True)
        full = f"{self.root}/{src}".strip("/")
        prefix = f"{full}/" if full else ""
        for rel in self.tree.walk_files(full):
            inner = rel[len(prefix) :]
            source_rel = f"{src}/{inner}".strip("/")
            if _excluded(source_rel, base, self.exclude):
                continue
            self.file(source_rel, f"{dest}/{inner}")

    def entry(self, src: str, dest: str, base: str) -> None:
        if self.tree.is_dir(f"{self.root}/{src}".strip("/")):
            self.folder(src, dest, base)
        else:
            self.file(src, dest)


def _merge_yaml(old: bytes, new: bytes, label: str) -> bytes:
    def merge(a: Any, b: Any) -> Any:
        if isinstance(a, dict) and isinstance(b, dict):
            out = dict(a)
            for key, value in b.items():
                out[key] = merge(out[key], value) if key in out else value
            return out
        return b

    try:
        docs_a = yamlio.load_all(old.decode("utf-8"), label)
        docs_b = yamlio.load_all(new.decode("utf-8"), label)
    except (FleetError, UnicodeDecodeError):
        raise ArtifactError(f"Merge strategy: {label} is not YAML") from None
    merged = merge(docs_a[0] if docs_a else {}, docs_b[0] if docs_b else {})
    return yamlio.dump(merged).encode() if isinstance(merged, dict) else new


def stage(
    artifact: Generated, resolve: Callable[[tuple[str, str, str]], FileTree | None], staging: Path
) -> None:
    """Write the artifact's files into ``staging`` (an empty folder); raises :class:`ArtifactError`."""
    for op in artifact.copy:
        source = str(op.get("from") or "")
        to = str(op.get("to") or "")
        if not source.startswith("@") or "/" not in source:
            raise ArtifactError(f"copy from {source!r} must look like @alias/path")
        if not to.startswith("@artifact/"):
            raise ArtifactError(f"copy to {to!r} must start with @artifact/")
        if op.get("strategy") == "Extract":
            raise ArtifactError("copy strategy Extract (untar) is not supported offline")
        alias, pattern = source[1:].split("/", 1)
        ref = artifact.sources.get(alias)
        if ref is None:
            raise ArtifactError(f"source alias {alias!r} is not defined")
        tree = resolve(ref)
        if tree is None:
            raise ArtifactError(
                f"source {ref[0]}/{ref[1]}/{ref[2]} ({alias}) is not a folder fluxfleet can read"
            )
        root = ""
        dest = to.removeprefix("@artifact/")
        stager = _Stage(tree, root, staging, op)
        if not _GLOB_CHARS.search(pattern):
            src = norm(pattern)
            if src is None or not tree.exists(src):
                raise ArtifactError(f"source {pattern!r} does not exist in {alias}")
            if tree.is_dir(src):
                stager.folder(src, f"{dest}/{posixpath.basename(src)}".strip("/"), src)
            else:
                if _excluded(src, ".", stager.exclude):
                    continue
                into = to.endswith("/") or stager._dest(dest).is_dir()
                stager.file(src, f"{dest}/{posixpath.basename(src)}" if into else dest)
            continue
        matches = [m for m in _glob(tree, root, pattern) if m not in (".", "..")]
        if not matches:
            raise ArtifactError(f"no files match pattern {pattern!r} in source {alias!r}")
        base = _selection_root(pattern)
        kept = [m for m in matches if not _excluded(m, base, stager.exclude)]
        if not kept:
            raise ArtifactError(f"all files matching pattern {pattern!r} in source {alias!r} were excluded")
        for match in kept:
            if pattern.endswith("/**") and match.startswith(pattern[:-3] + "/"):
                target = f"{dest}/{match[len(pattern) - 2 :]}"
            else:
                target = f"{dest}/{match}"
            stager.entry(match, target.strip("/"), base)


def _selection_root(pattern: str) -> str:
    parts = []
    for part in posixpath.normpath(pattern).split("/"):
        if _GLOB_CHARS.search(part):
            break
        parts.append(part)
    return "/".join(parts) or "."


def new_staging(parent: str) -> Path:
    path = Path(parent) / f"artifact-{len(os.listdir(parent))}"
    path.mkdir()
    return path
