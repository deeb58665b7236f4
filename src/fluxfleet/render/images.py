"""Container images in rendered objects: the version matrix behind ``fluxfleet get images``."""

from __future__ import annotations

from dataclasses import dataclass

from fluxfleet.render.model import ClusterRender
from fluxfleet.render.postbuild import pod_specs


@dataclass(frozen=True, order=True)
class ImageUse:
    image: str  # repository without tag/digest
    tag: str  # tag, "@sha256:..." digest, or "" (untagged = latest)
    cluster: str
    kustomization: str
    object: str  # "Kind/ns/name"
    container: str


def split_image(ref: str) -> tuple[str, str]:
    """``reg:5000/app:1.2@sha256:..`` -> (``reg:5000/app``, ``1.2@sha256:..``)."""
    name, _, digest = ref.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = ""
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    if digest:
        tag = f"{tag}@{digest}" if tag else f"@{digest}"
    return name, tag


def image_uses(render: ClusterRender) -> list[ImageUse]:
    out: list[ImageUse] = []
    for obj in render.objects:
        for pod in pod_specs(obj.body):
            for section in ("initContainers", "containers", "ephemeralContainers"):
                for container in pod.get(section) or []:
                    if not isinstance(container, dict) or not isinstance(container.get("image"), str):
                        continue
                    image, tag = split_image(container["image"])
                    out.append(
                        ImageUse(
                            image,
                            tag,
                            render.cluster,
                            obj.source.kustomization or "",
                            str(obj.key),
                            str(container.get("name") or ""),
                        )
                    )
    return out
