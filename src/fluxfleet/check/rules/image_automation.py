"""Flux image automation in the render: what it follows, and where it may write.

An ImageUpdateAutomation pushes commits to the fleet repository on its own; these rules keep it
to one registry per policy, to the folder of its cluster's environment, and out of production.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

from fluxfleet.check.context import ClusterContext
from fluxfleet.check.model import Severity, Violation
from fluxfleet.check.registry import cluster_rule

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
