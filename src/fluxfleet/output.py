"""Shared output formats for read commands: ``-o text|json|yaml``."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from fluxfleet import yamlio


class Format(StrEnum):
    text = "text"
    json = "json"
    yaml = "yaml"


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False, default=str) + "\n"


def to_yaml(data: Any) -> str:
    return yamlio.dump(json.loads(json.dumps(data, default=str)))


def structured(data: Any, fmt: Format | str) -> str:
    """JSON or YAML text for ``data``; callers handle ``text`` themselves."""
    return to_json(data) if str(getattr(fmt, "value", fmt)) == "json" else to_yaml(data)
