"""Options and helpers every command shares (output format, repo root, progress, errors)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from fluxfleet.output import Format

OutputOpt = Annotated[
    Format, typer.Option("--output", "-o", help="Output format: text, json or yaml.", case_sensitive=False)
]
RepoOpt = Annotated[
    Path,
    typer.Option(
        "--repo",
        "-C",
        help="Repository root (default: the current directory).",
        file_okay=False,
        resolve_path=True,
    ),
]
FleetOpt = Annotated[
    Path | None,
    typer.Option("--fleet", "-f", help="Fleet definition (default: <repo>/fleet.yaml).", dir_okay=False),
]


def stdout() -> Console:
    # Built per call so tests that swap sys.stdout see the output. Piped output is not cut to 80
    # columns: tables go to files and CI logs whole.
    # No markup: messages quote user input (paths, names, tool errors) where `[/x]` is just text.
    width = None if sys.stdout.isatty() else 240
    return Console(file=sys.stdout, highlight=False, soft_wrap=True, width=width, markup=False)


def stderr() -> Console:
    return Console(file=sys.stderr, highlight=False, soft_wrap=True, markup=False)


def error_line(tag: str, style: str, text: str) -> None:
    """``tag`` in ``style``, then ``text`` printed verbatim on stderr."""
    stderr().print(Text.assemble((tag, style), " ", text))


def interactive() -> bool:
    """Progress bars only for a person at a terminal, never in CI logs."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def echo(text: str) -> None:
    """Print plain text exactly (no markup interpretation)."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def warn(text: str) -> None:
    error_line("warning:", "yellow", text)


class _NullProgress:
    def advance(self, n: int = 1) -> None:
        pass


class _RichProgress:
    def __init__(self, progress: Progress, task: Any) -> None:
        self._progress = progress
        self._task = task

    def advance(self, n: int = 1) -> None:
        self._progress.advance(self._task, n)


@contextmanager
def progress(description: str, total: int) -> Iterator[_NullProgress | _RichProgress]:
    if not interactive():
        yield _NullProgress()
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr(),
        transient=True,
    ) as bar:
        yield _RichProgress(bar, bar.add_task(description, total=total))
