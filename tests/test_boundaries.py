"""Package boundaries of the design map (``../shared/DESIGN.md``), stated as its layer table.

Every import in src/fluxfleet (module level or inside functions) is read with ``ast``; breaking a
boundary fails this test, so it fails CI.

The map: kernel (``core``: the top-level modules) <- model (``fleet``) <- engines (``generate``,
``render``, ``check``, ``diff``, ``promote``, ``secrets``) <- use cases (``usecases``) <- front
ends (``cli``, ``serve``) and the library facade (``fluxfleet/__init__.py``, "api"); adapters (``gitrepo``) and output (``report``) sit beside them and are
passed in or called from the top. Imports go downward only, and each package knows nothing of
what its "knows nothing of" column names.

Where the code does not follow the map yet, the exception is pinned in ``DEVIATIONS`` with the
reason (a new one fails; one no longer needed fails too):
- ``fleet -> secrets``: fleet.yaml's ``ageRecipients`` are validated with the age recipient
  parser of ``secrets.recipients`` (a pure function; moving it is a rename other work depends on).
- ``secrets -> generate``: the secrets commands share the cluster folders and ``.sops.yaml``
  rules that generate writes (``generate.layout``, ``generate.sops_rules``).
- ``promote -> render.model``: the checks gate judges renders (the type, not rendering).

Allowed by the table but worth knowing: ``check -> secrets`` (sops metadata parsing; running sops
goes through the adapter in ``CheckOptions.sops_verify``), ``promote -> check/diff`` (the gate's
pure comparison), ``cli -> engines`` (``init``, ``validate``, ``clusters``, ``placement``,
``explain`` and the ``secrets`` commands are not behind a use case yet; "no business rules in
cli" cannot be read from imports).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "fluxfleet"

CORE = {"errors", "yamlio", "objects", "fsutil", "proc", "output", "bounded"}
KERNEL = {"core"}
MODEL = {"fleet"}
ENGINES = {"generate", "render", "check", "diff", "promote", "secrets", "scan"}
ADAPTERS = {"gitrepo"}
USECASES = {"usecases"}
OUTPUT = {"report"}
FRONT_ENDS = {"cli", "serve"}
ABOVE_ENGINES = USECASES | FRONT_ENDS

# package -> what it knows nothing of: the design table's last column, plus everything above it.
FORBIDDEN: dict[str, set[str]] = {
    "core": MODEL | ENGINES | ADAPTERS | USECASES | OUTPUT | FRONT_ENDS,
    # model: files on disk, git, kustomize
    "fleet": ENGINES | ADAPTERS | USECASES | OUTPUT | FRONT_ENDS,
    # generate: rendering, git
    "generate": {"render", "check", "diff", "promote", "gitrepo"} | OUTPUT | ABOVE_ENGINES,
    # render: fleet.yaml (it takes cluster specs)
    "render": {"fleet", "generate", "check", "diff", "promote", "secrets"} | OUTPUT | ABOVE_ENGINES,
    # check: CLI, output formats
    "check": {"generate", "diff", "promote", "gitrepo"} | OUTPUT | ABOVE_ENGINES,
    # diff: git plumbing
    "diff": {"fleet", "generate", "check", "promote", "secrets", "gitrepo"} | OUTPUT | ABOVE_ENGINES,
    # promote: rendering internals
    "promote": {"render", "secrets"} | OUTPUT | ABOVE_ENGINES,
    # secrets: rendering
    "secrets": {"render", "check", "diff", "promote", "gitrepo"} | OUTPUT | ABOVE_ENGINES,
    # scan: vulnerability reports of the rendered images (knows nothing of git or other engines)
    "scan": {"generate", "check", "diff", "promote", "secrets", "gitrepo"} | OUTPUT | ABOVE_ENGINES,
    # adapters: fleet semantics
    "gitrepo": MODEL | ENGINES | USECASES | OUTPUT | FRONT_ENDS,
    # use cases: CLI, HTTP
    "usecases": FRONT_ENDS,
    # output: rules (it formats results)
    "report": {"fleet", "generate", "render", "diff", "promote", "secrets", "gitrepo"} | ABOVE_ENGINES,
    # the library facade (fluxfleet/__init__.py): re-exports use cases and their types
    "api": FRONT_ENDS,
    # store: SQLAlchemy models and migrations of the service; knows nothing of HTTP
    "store": {"generate", "render", "check", "diff", "promote", "gitrepo"} | OUTPUT | ABOVE_ENGINES,
    # front ends: the service knows nothing of the CLI; the CLI only starts the service
    # (`fluxfleet serve`, keys, tokens, audit), so it may import it
    "cli": set(),
    "serve": {"cli"},
}

# (package, imported package or module) -> why it is allowed for now (see the module docstring).
DEVIATIONS: dict[tuple[str, str], str] = {
    ("fleet", "secrets"): "ageRecipients validation",
    ("secrets", "generate"): "cluster folders and .sops.yaml rules",
    ("promote", "render.model"): "the checks gate judges renders",
}
# Modules of a forbidden package that are types, not internals (a "rules" free report, say).
REPORT_ALLOWED_CHECK = {"check.model"}


def _package(path: Path) -> str:
    rel = path.relative_to(SRC)
    if len(rel.parts) == 1:
        if rel.stem == "__init__":
            return "api"
        return "core" if rel.stem in CORE else rel.stem
    return rel.parts[0]


@functools.cache
def _imports(path: Path) -> frozenset[str]:
    """Imported fluxfleet modules, without the ``fluxfleet.`` prefix (``render.model``)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fluxfleet."):
            out.add(node.module.removeprefix("fluxfleet."))
        elif isinstance(node, ast.Import):
            out.update(
                a.name.removeprefix("fluxfleet.") for a in node.names if a.name.startswith("fluxfleet.")
            )
    return frozenset(out)


def _top(module: str) -> str:
    first = module.split(".")[0]
    return "core" if first in CORE else first


def _broken(package: str) -> list[str]:
    broken = []
    for path in sorted(SRC.rglob("*.py")):
        if _package(path) != package:
            continue
        for module in sorted(_imports(path)):
            target = _top(module)
            if target not in FORBIDDEN[package]:
                continue
            if (package, target) in DEVIATIONS or (package, module) in DEVIATIONS:
                continue
            broken.append(f"{path.relative_to(SRC)} imports fluxfleet.{module}")
    return broken


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_boundaries(package: str) -> None:
    assert _broken(package) == []


def test_report_knows_only_the_result_types_of_check() -> None:
    found = {
        f"{path.relative_to(SRC)}: {module}"
        for path in sorted((SRC / "report").rglob("*.py"))
        for module in _imports(path)
        if _top(module) == "check" and module not in REPORT_ALLOWED_CHECK
    }
    assert found == set()


def test_every_package_is_on_the_map() -> None:
    packages = {_package(p) for p in SRC.rglob("*.py")}
    assert packages - set(FORBIDDEN) == set()


def test_each_deviation_is_still_needed() -> None:
    """A deviation the code no longer needs is removed from the list (the map is the truth)."""
    used = set()
    for path in SRC.rglob("*.py"):
        package = _package(path)
        for module in _imports(path):
            for key in ((package, _top(module)), (package, module)):
                if key in DEVIATIONS:
                    used.add(key)
    assert set(DEVIATIONS) - used == set()


def test_render_knows_nothing_of_fleet_yaml() -> None:
    mentions = [
        str(p.relative_to(SRC))
        for p in sorted((SRC / "render").rglob("*.py"))
        if "load_fleet" in p.read_text() or "fluxfleet.fleet" in p.read_text()
    ]
    assert mentions == []
