"""Rules whose findings the engine produces itself: render errors and exception bookkeeping."""

from __future__ import annotations

from fluxfleet.check.model import Severity
from fluxfleet.check.registry import declare

declare(
    "render-error",
    Severity.high,
    hint="fix the build error; `fluxfleet get kustomizations` and `fluxfleet build` show it in context",
    doc="a Kustomization could not be rendered, so what it applies was not checked",
    category="flux",
)
declare(
    "exception-expired",
    Severity.medium,
    hint="fix the finding, or renew the exception with a new expires= date and a reason",
    doc="an exception annotation's expiry date has passed; it no longer suppresses anything",
    category="exceptions",
)
declare(
    "exception-invalid",
    Severity.medium,
    hint='write exception.fluxfleet.dev/<rule-id>: "<reason>; expires=YYYY-MM-DD"',
    doc="an exception annotation names an unknown rule, lacks a reason or has a bad date",
    category="exceptions",
)
declare(
    "exception-unused",
    Severity.info,
    hint="remove the exception annotation",
    doc="an exception annotation excuses a rule that reports nothing on the object",
    category="exceptions",
)
