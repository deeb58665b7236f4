"""Schema validation: Kubernetes OpenAPI schemas per version, and CRDs found in the render.

Kubernetes schemas come from the ``kubernetes-validate`` package (one ``_definitions.json`` per
Kubernetes minor, strict variant: unknown fields are errors, as server-side apply rejects them).
We read its data files directly and compile with ``jsonschema-rs``; each (version, group, version,
kind) is compiled once per :class:`SchemaStore`. CRDs rendered into a cluster validate their own
custom resources: their OpenAPI v3 schema is translated to JSON Schema (``nullable``,
``x-kubernetes-int-or-string``, preserve-unknown-fields) and cached by content.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema_rs

from fluxfleet.errors import FleetError

_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
MAX_ERRORS_PER_OBJECT = 5


@dataclass(frozen=True)
class SchemaError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def _schema_root() -> Path:
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise FleetError("the kubernetes-validate package is not installed", hint="reinstall fluxfleet")
    return Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"


def supported_kubernetes_versions() -> list[str]:
    """Kubernetes minors with schemas, oldest first (``["1.25", ..., "1.37"]``)."""
    found = set()
    for d in _schema_root().iterdir():
        m = re.fullmatch(r"v(\d+)\.(\d+)\.\d+-local-strict", d.name)
        if m:
            found.add((int(m.group(1)), int(m.group(2))))
    return [f"{a}.{b}" for a, b in sorted(found)]


def resolve_kubernetes_version(requested: str | None) -> str:
    versions = supported_kubernetes_versions()
    if not versions:
        raise FleetError("no Kubernetes schemas found in the kubernetes-validate package")
    if not requested:
        return versions[-1]
    m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", requested.strip())
    if not m:
        raise FleetError(
            f"invalid Kubernetes version {requested!r}", field="kubernetesVersion", hint="use e.g. 1.33"
        )
    minor = f"{int(m.group(1))}.{int(m.group(2))}"
    if minor not in versions:
        raise FleetError(
            f"no schemas for Kubernetes {minor}",
            field="kubernetesVersion",
            hint=f"supported versions: {versions[0]} to {versions[-1]}",
        )
    return minor


def _error_path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _first_line(message: str) -> str:
    line = message.strip().splitlines()[0] if message.strip() else message
    return line if len(line) <= 300 else line[:297] + "..."


def validate(validator: Any, body: dict[str, Any]) -> list[SchemaError]:
    """Errors of ``body`` against a compiled validator; fast path when it is valid."""
    try:
        if validator.is_valid(body):
            return []
        errors: list[SchemaError] = []
        for err in validator.iter_errors(body):
            errors.append(SchemaError(_error_path(err.instance_path), _first_line(err.message)))
            if len(errors) >= MAX_ERRORS_PER_OBJECT:
                break
    except ValueError as exc:
        # The validator takes JSON only: a YAML key that is a number (`1.5: x`) or a `!!set` is
        # something no API server accepts either.
        return [SchemaError("", f"not a JSON object ({exc})")]
    return errors


FLUX_SCHEMAS = "flux-schemas/schemas.json"


def _flux_schemas() -> dict[str, Any]:
    """``group/version/Kind`` -> strict JSON Schema, shipped with fluxfleet (scripts/gen_flux_schemas.py)."""
    data = resources.files("fluxfleet").joinpath("data", *FLUX_SCHEMAS.split("/")).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(data)
    return loaded


@dataclass
class _Compiled:
    """What one Kubernetes version's schemas compile to, once per process."""

    defs: dict[str, Any] | None = None
    gvk: dict[tuple[str, str, str], str] = field(default_factory=dict)
    kinds: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    builtin: dict[tuple[str, str, str], Any] = field(default_factory=dict)


_SHARED: dict[str, _Compiled] = {}
_FLUX: dict[str, Any] = {}
_CRDS: dict[str, Any] = {}  # schema digest -> validator (content-addressed, so shared safely)
_FLUX_RAW: list[dict[str, Any]] = []


def _flux_raw() -> dict[str, Any]:
    if not _FLUX_RAW:
        _FLUX_RAW.append(_flux_schemas())
    return _FLUX_RAW[0]


class SchemaStore:
    """Compiled validators for one Kubernetes version, shared across clusters of a run."""

    def __init__(self, kubernetes_version: str | None = None) -> None:
        self.kubernetes_version = resolve_kubernetes_version(kubernetes_version)
        # Compiled validators are immutable, so every store of the process shares them: a second
        # check (promote's gate, a service request) compiles nothing again.
        shared = _SHARED.setdefault(self.kubernetes_version, _Compiled())
        self._shared = shared
        self._gvk = shared.gvk
        self._kinds = shared.kinds
        self._builtin = shared.builtin
        self._crd = _CRDS
        self._flux = _FLUX
        # CRD bodies seen by this store -> validator, keyed by identity (clusters share bodies), so
        # the schema digest is computed once per body rather than once per object.
        self._crd_seen: dict[tuple[int, str], tuple[dict[str, Any], Any]] = {}

    def flux(self, group: str, version: str, kind: str) -> Any | None:
        """Validator for a Flux kind from the shipped schemas (None: not a shipped Flux API)."""
        key = f"{group}/{version}/{kind}"
        if key not in self._flux:
            raw = _flux_raw().get(key)
            self._flux[key] = (
                jsonschema_rs.validator_for({**raw, "$schema": _SCHEMA_DIALECT}) if raw else None
            )
        return self._flux[key]

    def flux_versions(self, group: str, kind: str) -> set[str]:
        return {k.split("/")[1] for k in _flux_raw() if k.startswith(f"{group}/") and k.endswith(f"/{kind}")}

    def _load(self) -> dict[str, Any]:
        if self._shared.defs is None:
            path = _schema_root() / f"v{self.kubernetes_version}.0-local-strict" / "_definitions.json"
            defs: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["$defs"]
            for name, schema in defs.items():
                for gvk in schema.get("x-kubernetes-group-version-kind") or []:
                    key = (gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))
                    # The object type itself carries the GVK; option types (DeleteOptions) list many.
                    if name.endswith("." + key[2]) and key not in self._gvk:
                        self._gvk[key] = name
                        self._kinds.setdefault((key[0], key[2]), set()).add(key[1])
            self._shared.defs = defs
        return self._shared.defs

    def builtin_versions(self, group: str, kind: str) -> set[str]:
        """API versions this Kubernetes version serves for a built-in kind (empty: not built in)."""
        self._load()
        return self._kinds.get((group, kind), set())

    def builtin(self, group: str, version: str, kind: str) -> Any | None:
        key = (group, version, kind)
        if key in self._builtin:
            return self._builtin[key]
        defs = self._load()
        name = self._gvk.get(key)
        validator = None
        if name is not None:
            schema = {"$schema": _SCHEMA_DIALECT, "$defs": defs, "$ref": f"#/$defs/{name}"}
            validator = jsonschema_rs.validator_for(schema)
        self._builtin[key] = validator
        return validator

    def crd(self, crd_body: dict[str, Any], version: str) -> Any | None:
        """Validator for one served version of a rendered CRD (None when it has no schema)."""
        seen = self._crd_seen.get((id(crd_body), version))
        if seen is not None and seen[0] is crd_body:
            return seen[1]
        validator = self._crd_validator(crd_body, version)
        self._crd_seen[(id(crd_body), version)] = (crd_body, validator)
        return validator

    def _crd_validator(self, crd_body: dict[str, Any], version: str) -> Any | None:
        spec = crd_body.get("spec") or {}
        for v in spec.get("versions") or []:
            if not isinstance(v, dict) or v.get("name") != version:
                continue
            raw = ((v.get("schema") or {}).get("openAPIV3Schema")) or spec.get("validation", {}).get(
                "openAPIV3Schema"
            )
            if not isinstance(raw, dict):
                return None
            digest = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
            if digest not in self._crd:
                schema = openapi_to_jsonschema(raw, top=True)
                schema["$schema"] = _SCHEMA_DIALECT
                try:
                    self._crd[digest] = jsonschema_rs.validator_for(schema)
                except (ValueError, jsonschema_rs.ValidationError):
                    self._crd[digest] = None  # an invalid CRD schema is not ours to judge here
            return self._crd[digest]
        return None


def validate_flux_object(obj: dict[str, Any], store: SchemaStore | None = None) -> list[str]:
    """Errors of one Flux object against the shipped schema of its apiVersion/kind, strictly.

    ``[]`` when valid; one message when the apiVersion/kind is not a Flux API fluxfleet ships.
    Pass a ``store`` to reuse compiled validators across many objects.
    """
    api = obj.get("apiVersion")
    kind = obj.get("kind")
    if not isinstance(api, str) or not isinstance(kind, str) or not api or not kind:
        return ["apiVersion and kind are required"]
    group, _, version = api.rpartition("/")
    validator = (store or SchemaStore()).flux(group, version, kind)
    if validator is None:
        return [f"no Flux schema for {kind} {api}"]
    return [str(e) for e in validate(validator, obj)]


def crd_served_versions(crd_body: dict[str, Any]) -> set[str]:
    out = set()
    for v in (crd_body.get("spec") or {}).get("versions") or []:
        if isinstance(v, dict) and v.get("served", True) and v.get("name"):
            out.add(str(v["name"]))
    return out


_META_PROPS = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}}


def openapi_to_jsonschema(node: Any, *, top: bool = False) -> Any:
    """Translate a Kubernetes structural OpenAPI v3 schema into JSON Schema 2020-12."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties"):
            out[key] = {k: openapi_to_jsonschema(v) for k, v in (value or {}).items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = openapi_to_jsonschema(value) if isinstance(value, dict) else value
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [openapi_to_jsonschema(v) for v in value or []]
        elif key.startswith("x-kubernetes-") or key in ("nullable", "format", "description", "example"):
            continue  # annotations only; formats such as int32 are not JSON Schema formats
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("nullable") and "type" in out:
        t = out["type"]
        out["type"] = [*t, "null"] if isinstance(t, list) else [t, "null"]
    if top or node.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        for k, v in _META_PROPS.items():
            props.setdefault(k, v)
        if top:
            props.setdefault("status", {})
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        # Server-side apply rejects fields a structural schema does not declare.
        out["additionalProperties"] = False
    return out
