"""The ``fluxfleet`` command line.

Exit codes (every command): 0 success; 1 the command's own "something to report" result
(``generate --check`` stale, ``diff`` changes, ``check`` findings); 2 a user error (bad input,
missing tool), printed with file, line, field and a hint; 3 a promotion refused by a gate;
70 a bug in fluxfleet (one line on stderr names the crash report); 130 interrupted (SIGINT), 143
terminated (SIGTERM): running tools are killed with their process groups and scratch folders removed
before exiting.
"""

from __future__ import annotations

import errno
import sys

import typer

from fluxfleet import __version__
from fluxfleet.cli import (
    check_cmds,
    fleet_cmds,
    policy_cmds,
    promote_cmds,
    render_cmds,
    scan_cmds,
    secrets_cmds,
    serve_cmds,
    signals,
)
from fluxfleet.cli.common import error_line, stderr
from fluxfleet.cli.crash import EXIT_BUG, write_report
from fluxfleet.errors import FleetError

# OS refusals caused by the paths given, not by fluxfleet: a 300-character name, a loop of links...
_USER_OS_ERRORS = frozenset(
    {errno.ENAMETOOLONG, errno.ELOOP, errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM}
)

app = typer.Typer(
    name="fluxfleet",
    help="Declare a Flux v2 fleet once; generate, render, check, diff and promote it from git.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"fluxfleet {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", callback=_version_callback, is_eager=True
    ),
) -> None:
    """fluxfleet: Flux v2 fleets across environments and regions."""


_PANELS = (
    (fleet_cmds, "Fleet"),
    (render_cmds, "Render and diff"),
    (check_cmds, "Check"),
    (scan_cmds, "Check"),
    (policy_cmds, "Check"),
    (promote_cmds, "Promote"),
    (secrets_cmds, "Secrets and tenants"),
    (serve_cmds, "Fleet service"),
)
for _module, _panel in _PANELS:
    _seen = (len(app.registered_commands), len(app.registered_groups))
    _module.register(app)
    # Group `fluxfleet --help` by capability, in the order a user meets them.
    for _command in app.registered_commands[_seen[0] :]:
        _command.rich_help_panel = _command.rich_help_panel or _panel
    for _group in app.registered_groups[_seen[1] :]:
        _group.rich_help_panel = _group.rich_help_panel or _panel


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (used by tests and by the console script)."""
    args = list(sys.argv[1:] if argv is None else argv)
    with signals.handled():
        return _main(args)


def _main(args: list[str]) -> int:
    try:
        app(args=args, prog_name="fluxfleet")
    except signals.Terminated:
        stderr().print("terminated")
        return 143
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    except FleetError as exc:
        error_line("error:", "bold red", str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        stderr().print("interrupted")
        return 130
    except OSError as exc:
        if exc.errno not in _USER_OS_ERRORS:
            return _crashed(exc, args)
        # A path the user named (or a repository file named) that the system refuses: bad input.
        name = f" {exc.filename}" if exc.filename else ""
        error_line("error:", "bold red", f"cannot access{name}: {exc.strerror}")
        return 2
    except ValueError as exc:
        if "null byte" not in str(exc):
            return _crashed(exc, args)
        # The OS cannot name a file with NUL in it: a path given with one is bad input.
        error_line("error:", "bold red", "a path contains a NUL byte")
        return 2
    except Exception as exc:  # a bug: never reported as findings (1) or as the user's fault (2)
        return _crashed(exc, args)
    return 0


def _crashed(exc: Exception, args: list[str]) -> int:
    what = f"{type(exc).__name__}"
    try:
        path = write_report(exc, app, args)
    except Exception as write_exc:  # the report is a courtesy; the exit code is what matters
        error_line("internal error:", "bold red", f"{what}; no crash report ({type(write_exc).__name__})")
    else:
        error_line("internal error:", "bold red", f"{what}; please report this bug with {path}")
    return EXIT_BUG


def run() -> None:
    sys.exit(main())
