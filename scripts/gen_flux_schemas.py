"""Regenerate src/fluxfleet/data/flux-schemas/ from Flux's CustomResourceDefinitions.

Usage: python scripts/gen_flux_schemas.py <folder of Flux CRD YAML files> [<more folders>...]

Every served version of every CRD becomes one strict JSON Schema (unknown fields are errors, as
server-side apply rejects them), keyed ``<group>/<version>/<Kind>`` in ``schemas.json``. Later
folders win for the same key, so pass the oldest Flux release first. The CRDs are Apache-2.0:
their LICENSE is copied beside the output and NOTICE names where each CRD came from.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from fluxfleet import yamlio
from fluxfleet.check.schemas import openapi_to_jsonschema

OUT = Path(__file__).resolve().parent.parent / "src" / "fluxfleet" / "data" / "flux-schemas"


def schemas_of(crd: dict[str, object]) -> dict[str, object]:
    spec = crd.get("spec")
    assert isinstance(spec, dict)
    group, kind = spec["group"], spec["names"]["kind"]
    out: dict[str, object] = {}
    for version in spec.get("versions") or []:
        raw = (version.get("schema") or {}).get("openAPIV3Schema")
        if version.get("served", True) and isinstance(raw, dict):
            out[f"{group}/{version['name']}/{kind}"] = openapi_to_jsonschema(raw, top=True)
    return out


def main(folders: list[str]) -> int:
    if not folders:
        print(__doc__, file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    schemas: dict[str, object] = {}
    origins: list[str] = []
    for folder in map(Path, folders):
        for path in sorted(folder.glob("*.yaml")):
            for doc in yamlio.load_file(path):
                if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                    schemas.update(schemas_of(doc))
        origin = folder / "ORIGIN"
        if origin.is_file():
            origins.append(origin.read_text(encoding="utf-8").strip())
        if (folder / "LICENSE").is_file():
            shutil.copyfile(folder / "LICENSE", OUT / "LICENSE")
    (OUT / "schemas.json").write_text(json.dumps(schemas, sort_keys=True, separators=(",", ":")) + "\n")
    notice = (
        "The JSON schemas in schemas.json are derived (translated to JSON Schema, descriptions dropped)\n"
        "from the CustomResourceDefinitions of the Flux project, Copyright The Flux authors,\n"
        "licensed under the Apache License 2.0 (LICENSE in this folder).\n\n" + "\n\n".join(origins) + "\n"
    )
    (OUT / "NOTICE").write_text(notice, encoding="utf-8")
    print(f"wrote {len(schemas)} schemas to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
