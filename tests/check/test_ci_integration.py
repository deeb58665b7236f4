"""The pre-commit hook and the GitHub Action call fluxfleet with options that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fluxfleet import yamlio
from fluxfleet.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def _options_of(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main([command, "--help"]) == 0
    return capsys.readouterr().out


def _invocations(text: str) -> list[tuple[str, list[str]]]:
    text = text.replace("\\\n", " ")
    return [
        (m.group(1), re.findall(r"(--[a-z][a-z-]+)", m.group(2)))
        for m in re.finditer(r"fluxfleet (\w+)([^\n|>]*)", text)
    ]


def test_action_runs_render_check_and_diff_with_real_options(capsys: pytest.CaptureFixture[str]) -> None:
    action = yamlio.load_all((ROOT / "action.yml").read_text())[0]
    assert action["runs"]["using"] == "composite"
    scripts = "\n".join(step.get("run", "") for step in action["runs"]["steps"])
    calls = _invocations(scripts)
    assert {c for c, _ in calls} >= {"build", "check", "diff"}
    for command, options in calls:
        help_text = _options_of(command, capsys)
        for opt in options:
            assert opt in help_text, (command, opt)


def test_pre_commit_hook_entry_is_a_valid_check_invocation(capsys: pytest.CaptureFixture[str]) -> None:
    hooks = yamlio.load_all((ROOT / ".pre-commit-hooks.yaml").read_text())[0]
    hook = next(h for h in hooks if h["id"] == "fluxfleet-check")
    assert hook["pass_filenames"] is False
    [(command, options)] = _invocations(hook["entry"])
    help_text = _options_of(command, capsys)
    assert command == "check" and all(opt in help_text for opt in options)
