"""A small committed fleet (two clusters, a Rego policy folder) shared by the use case tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from fluxfleet.generate.run import generate
from gitcmd import git

from .helpers import FLEET, POLICY


@pytest.fixture(scope="session")
def template() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="fluxfleet-ws-")) / "repo"
    root.mkdir()
    (root / "fleet.yaml").write_text(FLEET)
    (root / "policy").mkdir()
    (root / "policy" / "main.rego").write_text(POLICY)
    generate(root)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "fleet")
    yield root
    shutil.rmtree(root.parent, ignore_errors=True)


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "repo", symlinks=True))
