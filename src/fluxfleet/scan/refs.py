"""Image references as registries see them, so ``nginx:1`` and ``docker.io/library/nginx:1`` match."""

from __future__ import annotations

from dataclasses import dataclass

from fluxfleet.render.images import split_image


@dataclass(frozen=True)
class ImageRef:
    name: str  # registry/repository, normalised
    tag: str  # "" when none
    digest: str  # "sha256:..." or ""

    @property
    def reference(self) -> str:
        """``name:tag`` (or just name): what a tag-matched report is looked up by."""
        return f"{self.name}:{self.tag}" if self.tag else self.name

    def __str__(self) -> str:
        return self.reference + (f"@{self.digest}" if self.digest else "")


def normalise_name(name: str) -> str:
    first, _, rest = name.partition("/")
    if not rest:
        return f"docker.io/library/{name}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{name}"
    if first == "index.docker.io":
        name = "docker.io/" + rest
    if name.startswith("docker.io/") and name.count("/") == 1:
        return "docker.io/library/" + name.removeprefix("docker.io/")
    return name


def parse_ref(ref: str) -> ImageRef:
    name, tag = split_image(ref.strip())
    tag, _, digest = tag.partition("@")
    return ImageRef(normalise_name(name), tag, digest)
