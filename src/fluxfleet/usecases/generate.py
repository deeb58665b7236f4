"""The ``generate`` use case: write the Flux layout of a working tree's fleet (or only compare)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fluxfleet.errors import FleetError
from fluxfleet.generate.run import GenerateResult
from fluxfleet.generate.run import generate as run_generate
from fluxfleet.usecases.workspace import Workspace


@dataclass(frozen=True)
class GenerateRequest:
    workspace: Workspace
    components_file: Path | None = None  # `flux install --export` output (default: the flux CLI's)
    write: bool = True  # False: compare only (``--check``, ``--dry-run``)
    allow_move: bool = False  # move a generated cluster folder (``--move``)


def generate_files(request: GenerateRequest) -> GenerateResult:
    """Plan the generated files of the workspace's fleet; write them when asked."""
    ws = request.workspace
    if not ws.on_disk:
        raise FleetError(
            f"cannot generate into {ws.label}: generated files are written to the working tree",
            hint="open the workspace on the working tree (Workspace.open(repo))",
        )
    return run_generate(
        ws.root,
        fleet_file=ws.fleet_file,
        components_file=request.components_file,
        write=request.write,
        allow_move=request.allow_move,
        fleet=ws.fleet,
    )
