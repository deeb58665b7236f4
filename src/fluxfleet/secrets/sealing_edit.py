"""Record a Sealed Secrets certificate in ``fleet.yaml`` (comments and layout elsewhere kept)."""

from __future__ import annotations

import io
from pathlib import Path

from ruamel.yaml.scalarstring import LiteralScalarString

from fluxfleet.errors import FleetError
from fluxfleet.fleet.sealing import SealingCertificate
from fluxfleet.fsutil import write_plan
from fluxfleet.secrets.fleet_edit import _child_map, load_for_edit


def check_certificate(pem: str, source: str) -> str:
    from pydantic import TypeAdapter, ValidationError

    try:
        return str(TypeAdapter(SealingCertificate).validate_python(pem))
    except ValidationError as exc:
        raise FleetError(str(exc.errors()[0]["msg"]).removeprefix("Value error, "), file=source) from None


def set_sealing_certificate(repo: Path, fleet_file: Path, pem: str, *, env: str, cluster: str | None) -> str:
    """Write ``pem`` as the certificate of ``env`` (or of ``cluster``); returns the field written."""
    y, doc, display = load_for_edit(repo, fleet_file)
    spec = _child_map(doc, "spec", display)
    section, name = ("clusters", cluster) if cluster else ("environments", env)
    items = spec.get(section)
    entry = next(
        (
            i
            for i in (items if isinstance(items, list) else [])
            if isinstance(i, dict) and i.get("name") == name
        ),
        None,
    )
    if entry is None:
        raise FleetError(
            f"{section[:-1]} {name!r} is not in {display}",
            file=display,
            hint="a cluster declared in fleet.d/ gets its certificate there, by hand",
        )
    entry["sealingCertificate"] = LiteralScalarString(pem.strip() + "\n")
    out = io.StringIO()
    y.dump(doc, out)
    target = fleet_file.resolve()
    write_plan(target.parent, {target.name: out.getvalue()})
    return f"spec.{section}[{name}].sealingCertificate"
