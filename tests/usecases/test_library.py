"""The library API: ``fluxfleet.__all__`` is pinned, every name resolves, and the README's
"Use as a library" example runs as written against the example fleet."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import fluxfleet
from gitcmd import git

ROOT = Path(__file__).resolve().parents[2]

API = [
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


def test_public_names_are_pinned_and_resolve() -> None:
    assert fluxfleet.__all__ == API
    # Import every subpackage first: a use case named like one (``fluxfleet.check``) would be
    # shadowed by the module once it is imported.
    for package in ("check", "diff", "generate", "promote", "render", "secrets", "usecases"):
        importlib.import_module(f"fluxfleet.{package}")
    for name in API:
        value = getattr(fluxfleet, name)
        assert not isinstance(value, types.ModuleType), name
        assert name == "__version__" or callable(value), name
    with pytest.raises(AttributeError):
        _ = fluxfleet.NoSuchThing  # type: ignore[attr-defined]


def test_the_error_type_is_the_one_commands_raise(example_fleet: Path) -> None:
    from fluxfleet.errors import FleetError

    assert fluxfleet.FleetError is FleetError
    with pytest.raises(fluxfleet.FleetError, match="unknown cluster"):
        fluxfleet.build_workspace(fluxfleet.BuildRequest(fluxfleet.Workspace.open(example_fleet), ("nope",)))


def _readme_example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("<!-- section:library -->", 1)[1].split("<!-- /section:library -->", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1
    return blocks[0]


@pytest.mark.slow
def test_readme_library_example_runs(example_fleet: Path) -> None:
    git(example_fleet, "add", "-A")
    git(example_fleet, "commit", "-qm", "fleet")
    script = example_fleet.parent / "example.py"
    script.write_text(_readme_example())
    res = subprocess.run(
        [sys.executable, str(script)],
        cwd=example_fleet,
        capture_output=True,
        text=True,
        env={**os.environ, "CI": "1"},
        timeout=600,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "fleet example: 9 clusters"
    assert lines[1] == "0 failing finding(s)"
    assert lines[2] == "3 cluster(s) change"  # myapp's dev overlay reaches the three dev clusters
    gates = dict(reversed(line.split()) for line in lines[3:])
    assert gates["source"] == "pass" and gates["checks"] == "pass"
    assert git(example_fleet, "status", "--porcelain") == ""  # a dry run and in-memory edits
