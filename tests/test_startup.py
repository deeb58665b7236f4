"""Startup cost: the CLI imports no domain package until a command runs (issue 16).

Importing every subcommand module and the pydantic models up front made `fluxfleet --help` take
0.33 s; commands now import what they use when they run. The check is on which modules are loaded,
not on a wall-clock time, so it holds on a loaded machine.
"""

from __future__ import annotations

import json
import subprocess
import sys

# Each of these pulls in a large part of the tool (pydantic models, the render engine, the rules).
HEAVY = (
    "pydantic",
    "ruamel.yaml",
    "fluxfleet.fleet.model",
    "fluxfleet.fleet.load",
    "fluxfleet.render.api",
    "fluxfleet.render.walker",
    "fluxfleet.render.present",
    "fluxfleet.check.engine",
    "fluxfleet.check.registry",
    "fluxfleet.promote.plan",
    "fluxfleet.generate.run",
    "fluxfleet.scan.run",
    "fluxfleet.secrets.ops",
)

_PROBE = """
import contextlib, io, json, sys
from fluxfleet.cli.main import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def _run(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, check=True, timeout=60
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_help_loads_no_domain_module() -> None:
    result = _run("--help")
    assert result["code"] == 0
    assert "render" in str(result["out"]) and "promote" in str(result["out"])
    loaded = set(result["modules"])  # type: ignore[call-overload]
    assert sorted(loaded & set(HEAVY)) == []


def test_version_flag_loads_no_domain_module() -> None:
    result = _run("--version")
    assert result["code"] == 0
    assert str(result["out"]).startswith("fluxfleet ")
    loaded = set(result["modules"])  # type: ignore[call-overload]
    assert sorted(loaded & set(HEAVY)) == []
