"""Test helper: validate objects against the openAPIV3Schema of the Flux CRDs in ../shared.

Unknown fields are made errors (the API server would prune them silently, which hides typos).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema_rs

from fluxfleet import yamlio


def _closed(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {k: _closed(v) for k, v in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


def crd_errors(crds: Path, obj: dict[str, Any]) -> list[str]:
    """Every schema error of ``obj`` (an empty list when it is valid)."""
    group, version = obj["apiVersion"].split("/")
    for path in sorted(crds.glob(f"{group}_*.yaml")):
        crd = yamlio.load_file(path)[0]
        if crd["spec"]["names"]["kind"] != obj["kind"]:
            continue
        for v in crd["spec"]["versions"]:
            if v["name"] == version:
                schema = _closed(v["schema"]["openAPIV3Schema"])
                schema["properties"]["metadata"] = {"type": "object"}
                validator = jsonschema_rs.validator_for(schema)
                return [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(obj)]
        return [f"{obj['kind']} has no version {version} in {path.name}"]
    return [f"no CRD for {obj['apiVersion']} {obj['kind']}"]
