"""Package boundaries from the design map: each package knows nothing of the ones it must not use.

Every import in src/fluxfleet (module level or inside functions) is read with ``ast``; breaking a
boundary fails this test, so it fails CI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "fluxfleet"

# package -> packages it must not import. `cli` may import anything; it is the edge.
FORBIDDEN: dict[str, set[str]] = {
    "core": {
        "fleet",
        "generate",
        "render",
        "check",
        "diff",
        "promote",
        "gitrepo",
        "secrets",
        "report",
        "cli",
    },
    "fleet": {"generate", "render", "check", "diff", "promote", "gitrepo", "report", "cli"},
    "generate": {"render", "check", "diff", "promote", "gitrepo", "report", "cli"},
    "render": {"check", "diff", "promote", "report", "cli"},
    "diff": {"check", "promote", "generate", "report", "cli"},
    "check": {"promote", "generate", "diff", "cli"},
    "report": {"render", "promote", "generate", "diff", "gitrepo", "secrets", "cli"},
    "gitrepo": {"fleet", "generate", "render", "check", "diff", "promote", "secrets", "report", "cli"},
    "secrets": {"render", "diff", "promote", "report", "cli"},
    "promote": {"cli"},
    "store": {"serve", "cli", "promote", "generate", "render", "check", "diff", "report"},
    "serve": {"cli"},
}
CORE = {"errors", "yamlio", "objects", "fsutil", "proc", "output"}


def _package(path: Path) -> str:
    rel = path.relative_to(SRC)
    if len(rel.parts) == 1:
        return "core" if rel.stem in CORE else rel.stem
    return rel.parts[0]


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fluxfleet."):
            out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("fluxfleet."))
    return out


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_boundaries(package: str) -> None:
    broken = []
    for path in sorted(SRC.rglob("*.py")):
        if _package(path) != package:
            continue
        for imported in _imports(path) & FORBIDDEN[package]:
            broken.append(f"{path.relative_to(SRC)} imports fluxfleet.{imported}")
    assert broken == []
