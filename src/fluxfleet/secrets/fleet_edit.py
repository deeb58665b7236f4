"""Comment-preserving edits of ``fleet.yaml`` (ruamel round-trip) for the secrets commands."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.util import load_yaml_guess_indent

from fluxfleet import yamlio
from fluxfleet.errors import FleetError
from fluxfleet.fsutil import write_plan


def _yaml(text: str) -> YAML:
    """A round-trip dumper with the file's own indentation, so only the edited lines change."""
    try:
        # ruamel guesses the indentation of block sequences (item content) and of their dash
        _, sequence, offset = load_yaml_guess_indent(text)
    except Exception:  # ruamel raises many types on odd input; the load below reports them
        sequence, offset = None, None
    if not sequence:
        sequence, offset = 4, 2  # what fluxfleet writes
    offset = offset or 0
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=max(sequence - offset, 2), sequence=sequence, offset=offset)
    return y


def _child_map(parent: Any, key: str, display: str) -> CommentedMap:
    node = parent.get(key)
    if node is None:
        node = CommentedMap()
        parent[key] = node
    if not isinstance(node, dict):
        raise FleetError(f"`{key}` must be a mapping", file=display, field=key)
    return node  # type: ignore[return-value]


def load_for_edit(repo: Path, fleet_file: Path) -> tuple[YAML, CommentedMap, str]:
    """``fleet_file`` loaded for a round-trip edit: the dumper, the document and its display name."""
    display = str(fleet_file.relative_to(repo)) if fleet_file.is_relative_to(repo) else str(fleet_file)
    text = yamlio.read_text(fleet_file, display=display)
    yamlio.load_all(text, display)  # same safety limits as every other read, before ruamel sees it
    y = _yaml(text)
    try:
        doc = y.load(text)
    except Exception as exc:
        raise FleetError(f"cannot edit the fleet definition: {exc}", file=display) from None
    if not isinstance(doc, dict):
        raise FleetError("the fleet definition must be a mapping", file=display)
    return y, doc, display  # type: ignore[return-value]


def set_age_recipients(repo: Path, fleet_file: Path, env: str, recipient: str, *, replace: bool) -> list[str]:
    """Add (or with ``replace`` set) the age recipient of ``env`` in ``spec.secrets.ageRecipients``.

    Returns the environment's recipients after the edit. Comments and layout elsewhere are kept.
    """
    y, doc, display = load_for_edit(repo, fleet_file)
    spec = _child_map(doc, "spec", display)
    secrets = _child_map(spec, "secrets", display)
    recipients = _child_map(secrets, "ageRecipients", display)
    current = recipients.get(env)
    if current is None or replace:
        seq = CommentedSeq([recipient])
        seq.fa.set_block_style()
        recipients[env] = seq
    else:
        if not isinstance(current, list):
            raise FleetError(
                f"spec.secrets.ageRecipients.{env} must be a list", file=display, field="ageRecipients"
            )
        if recipient not in current:
            current.append(recipient)
    out = io.StringIO()
    y.dump(doc, out)
    target = fleet_file.resolve()
    write_plan(target.parent, {target.name: out.getvalue()})
    return [str(r) for r in recipients[env]]
