"""`secrets keygen` edits fleet.yaml in the file's own layout (issue 10, item 8)."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from fluxfleet.cli.main import main
from fluxfleet.fleet.example import example_fleet_yaml

FLUSH_LEFT = """\
apiVersion: fluxfleet.dev/v1alpha1
kind: Fleet
metadata:
  name: flush
spec:
  source:
    url: ssh://git@github.com/example/fleet.git
    branch: main
  environments:
  - name: dev
  - name: prod
    timeout: 5m
  clusters:
  - name: dev-a
    labels: {environment: dev, region: a}
  - name: prod-a
    labels:
      environment: prod
      region: a
  apps:
  - name: web
    namespace: web
    images: [ghcr.io/example/web]
    versions:
      dev: 'v1'
"""


@pytest.mark.parametrize("layout", ["flush-left", "as-written"])
def test_keygen_changes_only_the_lines_it_must(tmp_path: Path, layout: str) -> None:
    repo = tmp_path / "fleet"
    repo.mkdir()
    text = FLUSH_LEFT if layout == "flush-left" else example_fleet_yaml()
    text = text.replace("  source:\n", "  source:\n    # keep me\n", 1).replace(
        "branch: main", 'branch: "main"'
    )
    (repo / "fleet.yaml").write_text(text)
    assert main(["validate", "-C", str(repo)]) == 0
    key = tmp_path / "dev.agekey"
    assert main(["secrets", "keygen", "-e", "dev", "-k", str(key), "-C", str(repo)]) == 0
    after = (repo / "fleet.yaml").read_text()
    changed = [
        line
        for line in difflib.unified_diff(text.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert all(line.startswith("+") for line in changed), changed
    assert len(changed) <= 4, changed  # secrets:, ageRecipients:, dev:, the key
    assert "# keep me" in after and 'branch: "main"' in after
