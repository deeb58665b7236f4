"""Events saved from Flux's ``generic`` provider, read from a file (JSON lines or one JSON array)."""

from __future__ import annotations

import json
from collections.abc import Set
from pathlib import Path

from fluxfleet.errors import FleetError, did_you_mean
from fluxfleet.store.events import FluxEvent, parse_event

MAX_IMPORT_BYTES = 256 * 1024 * 1024


def read_events(path: Path, cluster: str | None, known: Set[str]) -> list[FluxEvent]:
    display = str(path)
    try:
        if path.stat().st_size > MAX_IMPORT_BYTES:
            raise FleetError(f"larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MiB", file=display)
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FleetError(f"cannot read the file: {exc.strerror}", file=display) from None
    except UnicodeDecodeError:
        raise FleetError("the file is not UTF-8 text", file=display) from None
    items: list[tuple[int, object]] = []
    stripped = text.lstrip()
    try:
        if stripped.startswith("["):
            items = [(1, e) for e in json.loads(text)]
        else:
            items = [(n, json.loads(line)) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    except json.JSONDecodeError as exc:
        raise FleetError(f"not JSON: {exc.msg}", file=display, line=exc.lineno) from None
    except RecursionError:
        raise FleetError("JSON nested too deeply", file=display) from None
    out = []
    for n, item in items:
        meta = item.get("metadata") if isinstance(item, dict) else None
        name = cluster or (meta.get("cluster") if isinstance(meta, dict) else None)
        if not isinstance(name, str) or not name:
            raise FleetError(
                "the event names no cluster",
                file=display,
                line=n,
                field="metadata.cluster",
                hint="pass --cluster",
            )
        if name not in known:
            raise FleetError(
                f"unknown cluster {name!r}",
                file=display,
                line=n,
                field="metadata.cluster",
                hint=did_you_mean(name, sorted(known)),
            )
        try:
            out.append(parse_event(name, item))
        except FleetError as exc:
            raise FleetError(exc.message, file=display, line=n, field=exc.location.field) from None
    return out
