"""The fleet commands end to end through the CLI entry point (exit codes, -o json|yaml)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fluxfleet import __version__, yamlio
from fluxfleet.cli.main import main


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "fleet"
    assert main(["init", "--example", str(path)]) == 0
    assert (path / ".git").is_dir()
    return path


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    capsys.readouterr()
    assert main([*argv, "-o", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"fluxfleet {__version__}"


def test_help_on_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("init", "schema", "validate", "clusters", "placement", "explain", "generate"):
        assert main([command, "--help"]) == 0
    assert "--check" in capsys.readouterr().out


def test_placement_matrix_json_and_yaml(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "placement", "-C", str(repo))
    assert isinstance(data, dict)
    assert len(data["clusters"]) == 9
    by_name = {w["name"]: w for w in data["workloads"]}
    assert by_name["myapp"]["type"] == "app" and len(by_name["myapp"]["clusters"]) == 9
    assert by_name["monitoring"]["selector"] == "cluster-type=workload"
    assert main(["placement", "-C", str(repo), "-o", "yaml"]) == 0
    assert yamlio.load_all(capsys.readouterr().out)[0] == data


def test_explain_not_placed(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = repo / "fleet.yaml"
    fleet.write_text(
        fleet.read_text().replace(
            "      placement: {}       # empty selector: every cluster",
            "      placement:\n        matchExpressions:\n          - {key: region, operator: NotIn, values: [eu-west-1]}",
        )
    )
    data = run_json(capsys, "explain", "myapp", "--cluster", "prod-eu-west-1", "-C", str(repo))
    assert isinstance(data, dict)
    assert data["placed"] is False
    assert data["requirements"][0]["matched"] is False
    capsys.readouterr()
    assert main(["explain", "myapp", "--cluster", "prod-eu-west-1", "-C", str(repo)]) == 0
    out = capsys.readouterr().out
    assert "myapp is NOT placed on prod-eu-west-1" in out and "✗ region notin (eu-west-1)" in out


def test_explain_unknown_names_exit_2(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "myap", "--cluster", "prod-eu-west-1", "-C", str(repo)]) == 2
    assert "did you mean `myapp`?" in capsys.readouterr().err
    assert main(["explain", "myapp", "--cluster", "prod-eu-west", "-C", str(repo)]) == 2


def test_schema_is_json_schema_of_the_fleet(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["required"]) == {"apiVersion", "kind", "metadata", "spec"}
    assert "matchLabels" in json.dumps(schema) and "dependsOn" in json.dumps(schema)


def test_init_refuses_existing_fleet(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--example", str(repo)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_generate_json_summary(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "generate", "-C", str(repo))
    assert isinstance(data, dict)
    assert len(data["created"]) > 90 and data["deleted"] == [] and data["warnings"] == []
    again = run_json(capsys, "generate", "-C", str(repo))
    assert isinstance(again, dict)
    assert again["created"] == [] and again["updated"] == [] and again["unchanged"] == len(data["created"])
