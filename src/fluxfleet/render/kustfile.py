"""What kustomize-controller does to ``kustomization.yaml`` before it builds (fluxcd/pkg generator).

Pure functions over dicts. An existing file is read leniently (keys kustomize does not know are
dropped, as Flux's unmarshal into ``types.Kustomization`` drops them) and edited in place:
``targetNamespace``/``namePrefix``/``nameSuffix`` replace, ``patches`` and ``components`` are
appended, ``images`` merge by name with the kustomize-controller 1.9.4 rule, ``buildMetadata``
replaces. Without a file, one is generated from the ``*.yaml``/``*.yml`` files under the path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

# Fields of kustomize's types.Kustomization (api v0.21.x); anything else is dropped by Flux's edit.
KNOWN_FIELDS = frozenset(
    {
        "apiVersion",
        "kind",
        "metadata",
        "openapi",
        "namePrefix",
        "nameSuffix",
        "namespace",
        "commonLabels",
        "labels",
        "commonAnnotations",
        "patchesStrategicMerge",
        "patchesJson6902",
        "patches",
        "images",
        "imageTags",
        "replacements",
        "replicas",
        "vars",
        "sortOptions",
        "resources",
        "components",
        "crds",
        "bases",
        "configMapGenerator",
        "secretGenerator",
        "helmGlobals",
        "helmCharts",
        "helmChartInflationGenerator",
        "generatorOptions",
        "configurations",
        "generators",
        "transformers",
        "validators",
        "buildMetadata",
    }
)

_REMOTE_PREFIXES = ("git::", "gh:", "ssh://", "https://", "http://", "git@", "github.com:", "github.com/")


class EditError(Exception):
    """The Flux spec cannot be applied to the kustomization (message as Flux words it)."""


def is_remote(ref: str) -> bool:
    return ref.lower().startswith(_REMOTE_PREFIXES)


def is_local_relative(ref: str) -> bool:
    """fluxcd/pkg ``IsLocalRelativePath``: not remote and not absolute."""
    return not is_remote(ref) and not ref.startswith("/")


@dataclass(frozen=True)
class SpecEdits:
    """The Flux Kustomization fields that change the build (hashable, JSON-encoded lists)."""

    target_namespace: str = ""
    name_prefix: str = ""
    name_suffix: str = ""
    patches: str = "[]"
    components: tuple[str, ...] = ()
    ignore_missing_components: bool = False
    images: str = "[]"
    build_metadata: tuple[str, ...] = ()

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> SpecEdits:
        def text(key: str) -> str:
            value = spec.get(key)
            return "" if value is None else str(value)

        def lst(key: str) -> list[Any]:
            value = spec.get(key)
            return list(value) if isinstance(value, list) else []

        return cls(
            target_namespace=text("targetNamespace"),
            name_prefix=text("namePrefix"),
            name_suffix=text("nameSuffix"),
            patches=json.dumps(lst("patches"), sort_keys=True),
            components=tuple(str(c) for c in lst("components")),
            ignore_missing_components=bool(spec.get("ignoreMissingComponents")),
            images=json.dumps(lst("images"), sort_keys=True),
            build_metadata=tuple(str(b) for b in lst("buildMetadata")),
        )

    @property
    def empty(self) -> bool:
        return self == SpecEdits()

    def as_json(self) -> str:
        return json.dumps(
            [
                self.target_namespace,
                self.name_prefix,
                self.name_suffix,
                json.loads(self.patches),
                list(self.components),
                self.ignore_missing_components,
                json.loads(self.images),
                list(self.build_metadata),
            ],
            sort_keys=True,
        )


def lenient(kustomization: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kustomization.items() if k in KNOWN_FIELDS}


def merge_images(existing: list[Any], overrides: list[Any]) -> list[Any]:
    """kustomize-controller >= 1.9.4: merge by name; ``newTag`` and ``digest`` travel together."""
    out = [dict(i) if isinstance(i, dict) else i for i in existing]
    for image in overrides:
        if not isinstance(image, dict):
            continue
        name = image.get("name")
        target = next((i for i in out if isinstance(i, dict) and i.get("name") == name), None)
        if target is None:
            out.append({k: v for k, v in image.items() if v not in (None, "")})
            continue
        if image.get("newName"):
            target["newName"] = image["newName"]
        if image.get("newTag") or image.get("digest"):
            target.pop("newTag", None)
            target.pop("digest", None)
            if image.get("newTag"):
                target["newTag"] = image["newTag"]
            if image.get("digest"):
                target["digest"] = image["digest"]
    return out


def apply_edits(
    kustomization: Mapping[str, Any],
    edits: SpecEdits,
    *,
    existing_file: bool,
    component_exists: Any = None,
) -> dict[str, Any]:
    """The kustomization as Flux writes it back before building.

    ``component_exists(path) -> bool`` is consulted for ``ignoreMissingComponents``.
    """
    out = lenient(kustomization)
    if existing_file and not out.get("resources"):
        # Flux avoids kustomize's "kustomization.yaml is empty" error this way (fluxcd/pkg 7a73f410).
        out["buildMetadata"] = ["originAnnotations"]
    if edits.target_namespace:
        out["namespace"] = edits.target_namespace
    if edits.name_prefix:
        out["namePrefix"] = edits.name_prefix
    if edits.name_suffix:
        out["nameSuffix"] = edits.name_suffix
    patches = json.loads(edits.patches)
    if patches:
        out["patches"] = [*_listed(out, "patches"), *patches]
    if edits.components:
        added: list[str] = []
        for comp in edits.components:
            if not is_local_relative(comp):
                raise EditError(f"component path '{comp}' must be local and relative")
            if (
                edits.ignore_missing_components
                and component_exists is not None
                and not component_exists(comp)
            ):
                continue
            added.append(comp)
        if added:
            out["components"] = [*_listed(out, "components"), *added]
    images = json.loads(edits.images)
    if images:
        out["images"] = merge_images(_listed(out, "images"), images)
    if edits.build_metadata:
        out["buildMetadata"] = list(edits.build_metadata)
    out.setdefault("apiVersion", "kustomize.config.k8s.io/v1beta1")
    out.setdefault("kind", "Kustomization")
    return out


def _listed(kustomization: Mapping[str, Any], key: str) -> list[Any]:
    """A list field Flux appends its spec to; kustomize's own decoder refuses any other type."""
    value = kustomization.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise EditError(f"`{key}` in kustomization.yaml must be a list, not {type(value).__name__}")
    return value


def generated(resources: list[str]) -> dict[str, Any]:
    """The kustomization Flux writes when the path has none (§3.2)."""
    out: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    if resources:
        out["resources"] = resources
    else:
        out["namespace"] = "_placeholder"
    return out
