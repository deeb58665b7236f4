"""``.sops.yaml`` creation rules: each folder is encrypted for the environments it is deployed to.

One pair of rules per folder (see :mod:`fluxfleet.secrets.scope`), most specific folder first
because sops uses the first rule whose ``path_regex`` matches. YAML/JSON files get
``encrypted_regex`` so Flux can still read ``apiVersion``/``kind``/``metadata``; any other file
(dotenv or binary sources of a ``secretGenerator``) is encrypted whole, since a key regex there
would leave every value in clear. A folder is only given rules when every environment it reaches
has recipients: a file Flux cannot decrypt in one of its environments is worse than an error at
encryption time.
"""

from __future__ import annotations

import re
from typing import Any

from fluxfleet import yamlio
from fluxfleet.fleet.load import Fleet
from fluxfleet.fleet.placement import Placement, place
from fluxfleet.secrets.scope import scopes

SOPS_CONFIG = ".sops.yaml"
STRUCTURED = r".*\.(ya?ml|json)$"


def _escape(path: str) -> str:
    """Escape RE2 metacharacters only (Python's re.escape also escapes '-', which reads badly)."""
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", path)


def recipients_for(fleet: Fleet, envs: tuple[str, ...]) -> tuple[str, ...] | None:
    """Union of the recipients of ``envs`` (stable order), or None if one of them has none."""
    out: dict[str, None] = {}
    for env in envs:
        found = fleet.secrets.age_recipients.get(env)
        if not found:
            return None
        out.update(dict.fromkeys(found))
    return tuple(out)


def creation_rules(fleet: Fleet, placement: Placement) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for scope in scopes(fleet, placement):
        recipients = recipients_for(fleet, scope.envs)
        if not recipients:
            continue
        prefix = "^" + _escape(scope.prefix) + "/"
        age = ",".join(recipients)
        rules.append(
            {
                "path_regex": prefix + STRUCTURED,
                "encrypted_regex": fleet.secrets.encrypted_regex,
                "age": age,
            }
        )
        rules.append({"path_regex": prefix, "age": age})
    return rules


def plan_sops_rules(fleet: Fleet) -> dict[str, str]:
    """``{".sops.yaml": content}`` (without the generated-file header), or ``{}`` without recipients."""
    if not any(fleet.secrets.age_recipients.values()):
        return {}
    rules = creation_rules(fleet, place(fleet))
    if not rules:
        return {}
    doc = {"stores": {"yaml": {"indent": 2}}, "creation_rules": rules}
    comment = (
        "# sops creation rules, first match wins: each folder is encrypted for the age recipients of\n"
        "# the environments it is deployed to (spec.secrets.ageRecipients in fleet.yaml).\n"
    )
    return {SOPS_CONFIG: comment + yamlio.dump(doc)}
