"""fluxfleet: declare a Flux v2 fleet once, then generate, render, check, diff and promote it.

The package is a pure core (``fleet``, ``generate``, ``render``, ``check``, ``diff``, ``promote``)
with I/O kept at the edges (``cli``, ``gitrepo``, ``fsutil``, ``proc``).

As a library, the names below are the API (the service and the CLI use the same ones): open a
:class:`Workspace` (a revision of the repository), pass it in a request to a use case, read the
typed result. User errors raise :class:`FleetError` (with file, line, field and a hint).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it; imported on first use so `import fluxfleet` stays cheap.
_EXPORTS = {
    "FleetError": "fluxfleet.errors",
    "Workspace": "fluxfleet.usecases.workspace",
    "RenderOptions": "fluxfleet.render.api",
    "BuildRequest": "fluxfleet.usecases.render",
    "BuildResult": "fluxfleet.usecases.render",
    "build_workspace": "fluxfleet.usecases.render",
    "CheckRequest": "fluxfleet.usecases.render",
    "CheckOutcome": "fluxfleet.usecases.render",
    "check_workspace": "fluxfleet.usecases.render",
    "CheckSettings": "fluxfleet.usecases.checks",
    "CheckSetup": "fluxfleet.usecases.checks",
    "DiffRequest": "fluxfleet.usecases.render",
    "DiffOutcome": "fluxfleet.usecases.render",
    "diff_workspaces": "fluxfleet.usecases.render",
    "GenerateRequest": "fluxfleet.usecases.generate",
    "GenerateResult": "fluxfleet.generate.run",
    "generate_files": "fluxfleet.usecases.generate",
    "PromoteRequest": "fluxfleet.promote.plan",
    "RollbackRequest": "fluxfleet.promote.plan",
    "Delivery": "fluxfleet.usecases.promote",
    "PromoteCommand": "fluxfleet.usecases.promote",
    "RollbackCommand": "fluxfleet.usecases.promote",
    "RevertCommand": "fluxfleet.usecases.promote",
    "PromoteResult": "fluxfleet.usecases.promote",
    "promote_app": "fluxfleet.usecases.promote",
    "rollback_app": "fluxfleet.usecases.promote",
    "revert_promotion": "fluxfleet.usecases.promote",
    "version_matrix": "fluxfleet.usecases.ledger",
    "rollout_status": "fluxfleet.usecases.ledger",
    "history": "fluxfleet.usecases.ledger",
    "Clock": "fluxfleet.usecases.clock",
    "SystemClock": "fluxfleet.usecases.clock",
    "FixedClock": "fluxfleet.usecases.clock",
}

__all__ = [
    "BuildRequest",
    "BuildResult",
    "CheckOutcome",
    "CheckRequest",
    "CheckSettings",
    "CheckSetup",
    "Clock",
    "Delivery",
    "DiffOutcome",
    "DiffRequest",
    "FixedClock",
    "FleetError",
    "GenerateRequest",
    "GenerateResult",
    "PromoteCommand",
    "PromoteRequest",
    "PromoteResult",
    "RenderOptions",
    "RevertCommand",
    "RollbackCommand",
    "RollbackRequest",
    "SystemClock",
    "Workspace",
    "__version__",
    "build_workspace",
    "check_workspace",
    "diff_workspaces",
    "generate_files",
    "history",
    "promote_app",
    "revert_promotion",
    "rollback_app",
    "rollout_status",
    "version_matrix",
]

if TYPE_CHECKING:
    from fluxfleet.errors import FleetError
    from fluxfleet.generate.run import GenerateResult
    from fluxfleet.promote.plan import PromoteRequest, RollbackRequest
    from fluxfleet.render.api import RenderOptions
    from fluxfleet.usecases.checks import CheckSettings, CheckSetup
    from fluxfleet.usecases.clock import Clock, FixedClock, SystemClock
    from fluxfleet.usecases.generate import GenerateRequest, generate_files
    from fluxfleet.usecases.ledger import history, rollout_status, version_matrix
    from fluxfleet.usecases.promote import (
        Delivery,
        PromoteCommand,
        PromoteResult,
        RevertCommand,
        RollbackCommand,
        promote_app,
        revert_promotion,
        rollback_app,
    )
    from fluxfleet.usecases.render import (
        BuildRequest,
        BuildResult,
        CheckOutcome,
        CheckRequest,
        DiffOutcome,
        DiffRequest,
        build_workspace,
        check_workspace,
        diff_workspaces,
    )
    from fluxfleet.usecases.workspace import Workspace


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fluxfleet' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
