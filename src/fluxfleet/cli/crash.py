"""Crash reports: an unexpected exception is a bug in fluxfleet, never a user error or a finding.

The report names the version, the command path, option names and the traceback frames, so a bug
can be filed without a debugger. It never holds what could be a secret: no environment, no option
or argument values, and every argument value or environment value that shows up in the exception
message is masked.
"""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

import platformdirs
import typer

from fluxfleet import __version__

EXIT_BUG = 70
_MASK = "***"
_MIN_MASKED = 4  # shorter values ("a", "-o") would mask the words of the message itself


def crash_dir() -> Path:
    return Path(platformdirs.user_state_dir("fluxfleet")) / "crash"


def _children(app: typer.Typer) -> dict[str, typer.Typer | None]:
    out: dict[str, typer.Typer | None] = {}
    for command in app.registered_commands:
        name = command.name or getattr(command.callback, "__name__", "").replace("_", "-")
        out[name] = None
    for group in app.registered_groups:
        if group.name and group.typer_instance is not None:
            out[group.name] = group.typer_instance
    return out


def command_path(root: typer.Typer, argv: Sequence[str]) -> list[str]:
    """The subcommand names at the start of ``argv`` and the option names after them, no values."""
    shown: list[str] = []
    node: typer.Typer | None = root
    for token in argv:
        if token.startswith("-"):
            shown.append(token.split("=", 1)[0])
            continue
        children = _children(node) if node is not None else {}
        if token in children:
            shown.append(token)
            node = children[token]
            continue
        node = None  # a value: from here on only option names are recorded
    return shown


def _masked(text: str, root: typer.Typer, argv: Sequence[str]) -> str:
    secrets = {v for v in os.environ.values() if len(v) >= _MIN_MASKED}
    named = set(command_path(root, argv))
    for token in argv:
        if token not in named:
            secrets.add(token)
        if "=" in token:
            secrets.add(token.split("=", 1)[1])
    for value in sorted((s for s in secrets if len(s) >= _MIN_MASKED), key=len, reverse=True):
        text = text.replace(value, _MASK)
    return text


def report_text(exc: BaseException, root: typer.Typer, argv: Sequence[str]) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    lines = [
        f"fluxfleet {__version__} crash report",
        f"python: {platform.python_version()} ({sys.platform})",
        f"command: fluxfleet {' '.join(command_path(root, argv))}",
        "",
        "traceback (most recent call last):",
        # Frames are fluxfleet's code, never data: only the message can quote input.
        *(line.rstrip("\n") for line in traceback.format_list(frames)),
        f"{type(exc).__module__}.{type(exc).__qualname__}: {_masked(str(exc), root, argv)}",
    ]
    return "\n".join(lines) + "\n"


def write_report(exc: BaseException, root: typer.Typer, argv: Sequence[str]) -> Path:
    """Write the report (readable by the user only) and return its path."""
    folder = crash_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = folder / f"crash-{stamp}-{os.getpid()}.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(report_text(exc, root, argv))
    return path
