"""Secret handling in renders: SOPS masking as ``flux build`` does it, and masking for display.

fluxfleet never decrypts while rendering. SOPS-encrypted Secrets are masked with Flux's own
placeholders (fluxcd/flux2 ``internal/build`` ``maskSopsData``), so output shows which values are
SOPS-encrypted in git. For anything printed (``build`` output, diffs) every other Secret value is
masked as well (``**MASKED**``): a plaintext Secret in git is never shown.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

SOPS_MASK = "**SOPS**"
SOPS_MASK_B64 = base64.b64encode(SOPS_MASK.encode()).decode()  # KipTT1BTKio=
DOCKERCONFIG_MASK = '{"mask":"**SOPS**"}'
DOCKERCONFIG_MASK_B64 = base64.b64encode(DOCKERCONFIG_MASK.encode()).decode()
DISPLAY_MASK = "**MASKED**"
DISPLAY_MASK_B64 = base64.b64encode(DISPLAY_MASK.encode()).decode()


def is_secret(body: dict[str, Any]) -> bool:
    return body.get("kind") == "Secret" and str(body.get("apiVersion") or "") == "v1"


def is_sops_document(body: dict[str, Any]) -> bool:
    sops = body.get("sops")
    return isinstance(sops, dict) and str(sops.get("mac") or "").startswith("ENC[")


def _has_sops_marker(text: str) -> bool:
    return "sops" in text and "ENC[" in text


def mask_sops(body: dict[str, Any]) -> bool:
    """Mask a SOPS-encrypted Secret in place; True when it was encrypted."""
    if not is_secret(body):
        return False
    raw_data, raw_string = body.get("data"), body.get("stringData")
    data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
    string_data: dict[str, Any] = raw_string if isinstance(raw_string, dict) else {}
    if is_sops_document(body):
        docker = body.get("type") == "kubernetes.io/dockerconfigjson"
        for key in data:
            data[key] = DOCKERCONFIG_MASK_B64 if docker else SOPS_MASK_B64
        for key in string_data:
            string_data[key] = DOCKERCONFIG_MASK if docker else SOPS_MASK
        del body["sops"]
        return True
    masked = False
    for key, value in data.items():
        try:
            decoded = base64.b64decode(str(value), validate=True).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            continue
        if _has_sops_marker(decoded):
            data[key] = SOPS_MASK_B64
            masked = True
    for key, value in string_data.items():
        if _has_sops_marker(str(value)):
            string_data[key] = SOPS_MASK_B64
            masked = True
    return masked


# What SOPS masking leaves in a value: safe to show, and it tells the reader the value is encrypted.
SOPS_PLACEHOLDERS = frozenset({SOPS_MASK, SOPS_MASK_B64, DOCKERCONFIG_MASK, DOCKERCONFIG_MASK_B64})


def masked_for_display(body: dict[str, Any]) -> dict[str, Any]:
    """A copy of a Secret with every value masked (other objects are returned unchanged).

    Flux's SOPS placeholders stay as they are; any other value becomes ``**MASKED**``.
    """
    if body.get("kind") != "Secret":
        return body
    out = dict(body)
    for field, mask in (("data", DISPLAY_MASK_B64), ("stringData", DISPLAY_MASK)):
        values = body.get(field)
        if isinstance(values, dict):
            out[field] = {k: v if _is_placeholder(v) else mask for k, v in values.items()}
    out.pop("sops", None)  # masking removes it from encrypted Secrets; metadata alone says nothing
    return out


def _is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and value in SOPS_PLACEHOLDERS


def holds_values(body: dict[str, Any]) -> bool:
    """Whether an object is a Secret holding a value other than Flux's SOPS placeholders.

    Such an object is never written to a cache (nothing at rest holds a Secret value in clear).
    """
    if body.get("kind") != "Secret":
        return False
    for section in ("data", "stringData"):
        values = body.get(section)
        if values is None:
            continue
        if not isinstance(values, dict) or any(v not in SOPS_PLACEHOLDERS for v in values.values()):
            return True
    return False
