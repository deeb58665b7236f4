"""Flux image automation in the render: what it follows, and where it may write.

An ImageUpdateAutomation pushes commits to the fleet repository on its own; these rules keep it
to one registry per policy, to the folder of its cluster's environment, and out of production.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from fluxfleet.check.context import ClusterContext
from fluxfleet.check.model import Severity, Violation
from fluxfleet.check.registry import cluster_rule
from fluxfleet.errors import FleetError
from fluxfleet.fsutil import safe_join

IMAGE_GROUP = "image.toolkit.fluxcd.io"
PRODUCTION = frozenset({"prod", "production", "prd", "live"})


def _map(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _registry_pinned(image: str) -> bool:
    """``ghcr.io/org/app`` names its registry; ``org/app`` and ``app`` leave it to a default."""
    first, sep, _ = image.partition("/")
    return bool(sep) and ("." in first or ":" in first or first == "localhost")


@cluster_rule(
    "image-policy-registry",
    Severity.medium,
    hint="write the registry host in ImageRepository spec.image (e.g. ghcr.io/org/app, docker.io/org/app)",
    doc="an ImagePolicy follows an ImageRepository whose image does not name one registry",
    category="image-automation",
)
def image_policy_registry(ctx: ClusterContext) -> Iterator[Violation]:
    for policy in ctx.of_kind("ImagePolicy", IMAGE_GROUP):
        spec = _map(policy.body.get("spec"))
        ref = _map(spec.get("imageRepositoryRef"))
        name = ref.get("name")
        namespace = ref.get("namespace") or policy.key.namespace
        if not isinstance(name, str):
            continue
        for repo in ctx.find(IMAGE_GROUP, "ImageRepository", str(namespace), name):
            rspec = _map(repo.body.get("spec"))
            image = rspec.get("image")
            if isinstance(image, str) and not _registry_pinned(image):
                yield Violation(
                    f"{policy.key} follows {repo.key} whose image {image!r} names no registry host",
                    policy,
                )


@cluster_rule(
    "image-automation-scope",
    Severity.high,
    hint="set spec.update.path to the environment's overlay folder (e.g. ./apps/<app>/overlays/<env>)",
    doc="an ImageUpdateAutomation may write outside the folder of its cluster's environment",
    category="image-automation",
)
def image_automation_scope(ctx: ClusterContext) -> Iterator[Violation]:
    for auto in ctx.of_kind("ImageUpdateAutomation", IMAGE_GROUP):
        spec = _map(auto.body.get("spec"))
        update = _map(spec.get("update"))
        path = update.get("path")
        parts = PurePosixPath(str(path or ".")).parts
        clean = [p for p in parts if p not in (".", "")]
        if not clean or ".." in clean:
            yield Violation(f"{auto.key} updates the whole repository (spec.update.path is {path!r})", auto)
        elif ctx.environment and ctx.environment not in clean:
            yield Violation(
                f"{auto.key} writes to {path!r}, outside the folders of environment {ctx.environment!r}",
                auto,
            )


@cluster_rule(
    "image-automation-production",
    Severity.low,
    hint="let new builds reach the first environment only; promote into production with `fluxfleet promote`",
    doc="image automation writes versions in a production environment, bypassing promotion gates",
    category="image-automation",
)
def image_automation_production(ctx: ClusterContext) -> Iterator[Violation]:
    if (ctx.environment or "").lower() not in PRODUCTION:
        return
    for auto in ctx.of_kind("ImageUpdateAutomation", IMAGE_GROUP):
        yield Violation(f"{auto.key} runs in production environment {ctx.environment!r}", auto)


MARKER = re.compile(r'#\s*\{\s*"\$imagepolicy"\s*:\s*"([^"]*)"\s*\}')
MAX_MARKER_FILES = 500
MAX_MARKER_BYTES = 1024 * 1024


def markers_in(repo: Path, folder: str) -> list[tuple[str, int, str]]:
    """``(file, line, policy reference)`` of every setter marker in the YAML files below ``folder``."""
    try:
        root = safe_join(repo, folder.removeprefix("./") or ".")
    except FleetError:
        return []
    if not root.is_dir():
        return []
    out: list[tuple[str, int, str]] = []
    files = [p for p in sorted(root.rglob("*")) if p.suffix in (".yaml", ".yml")][:MAX_MARKER_FILES]
    for path in files:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_MARKER_BYTES:
            continue
        rel = path.relative_to(repo.resolve()).as_posix()
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            for match in MARKER.finditer(line):
                out.append((rel, number, match.group(1)))
    return out


@cluster_rule(
    "image-policy-marker",
    Severity.medium,
    hint='point the marker at an ImagePolicy on this cluster: # {"$imagepolicy": "<namespace>:<name>:tag"}',
    doc="an image automation's setter marker names no ImagePolicy, or its folder has no marker at all",
    category="image-automation",
)
def image_policy_marker(ctx: ClusterContext) -> Iterator[Violation]:
    repo = ctx.options.repo
    if repo is None:
        return
    for auto in ctx.of_kind("ImageUpdateAutomation", IMAGE_GROUP):
        path = _map(_map(auto.body.get("spec")).get("update")).get("path")
        if not isinstance(path, str) or not path.strip("./"):
            continue  # image-automation-scope reports it; scanning the whole repository is no help
        found = markers_in(repo, path)
        if not found:
            yield Violation(f"{auto.key} updates {path!r}, which holds no $imagepolicy marker", auto)
        for file, line, ref in found:
            namespace, _, rest = ref.partition(":")
            name = rest.split(":", 1)[0]
            if not name or not ctx.exists(IMAGE_GROUP, "ImagePolicy", namespace, name):
                yield Violation(
                    f"marker {ref!r} (updated by {auto.key}) names no ImagePolicy on this cluster",
                    auto,
                    file=file,
                    line=line,
                )
