"""Golden renders: `fluxfleet build -o yaml` of the fixture repos and the example fleet, byte for byte.

Refresh with ``UPDATE_GOLDEN=1 pytest tests/render/test_golden.py`` and review the diff of
``tests/render/golden/``. The example fleet stores one representative cluster to stay small.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fluxfleet.cli.main import main

GOLDEN = Path(__file__).parent / "golden"
FIXTURES = ("flux2-kustomize-helm-example", "flux2-multi-tenancy", "flux2-monitoring-example")
EXAMPLE_CLUSTER = "prod-eu-west-1"


def _build(capsys: pytest.CaptureFixture[str], repo: Path, *args: str) -> str:
    code = main(["build", "-C", str(repo), "-o", "yaml", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("---\n# cluster: ")
    return out


def _compare(name: str, rendered: str) -> None:
    golden = GOLDEN / f"{name}.yaml"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(rendered, encoding="utf-8")
    assert golden.is_file(), f"{golden} is missing: run with UPDATE_GOLDEN=1"
    expected = golden.read_text(encoding="utf-8")
    assert rendered == expected, f"render of {name} differs from {golden} (UPDATE_GOLDEN=1 refreshes it)"


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_repo_render_matches_golden(
    name: str, fixture_repos: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _compare(name, _build(capsys, fixture_repos / name))


def test_example_fleet_render_matches_golden(example_fleet: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    _compare("example-fleet", _build(capsys, example_fleet, "--cluster", EXAMPLE_CLUSTER))
