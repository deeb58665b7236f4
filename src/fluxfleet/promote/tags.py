"""Image tags as fluxfleet accepts them, and how to write one as a YAML scalar that stays a string."""

from __future__ import annotations

import re

from fluxfleet.errors import FleetError
from fluxfleet.fleet.names import IMAGE_TAG as _TAG

# plain YAML scalars that stay strings: tags, cluster names, image names (a ":" never ends a part)
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*(?::[A-Za-z0-9_./-]+)*$")
# words some YAML readers (1.1 and 1.2) turn into booleans or null
_SPECIAL = {"true", "false", "null", "yes", "no", "on", "off", "y", "n"}


def check_tag(tag: str, *, field: str = "--version") -> str:
    # fullmatch: with match, `$` also matches before a final newline ("v1.2.9\n" would pass).
    if not _TAG.fullmatch(tag):
        raise FleetError(
            f"{tag!r} is not a valid image tag",
            field=field,
            hint="tags are up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'",
        )
    return tag


def yaml_scalar(value: str) -> str:
    """``value`` as a YAML scalar that every reader parses back to the same string."""
    if _PLAIN.fullmatch(value) and value.lower() not in _SPECIAL:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
