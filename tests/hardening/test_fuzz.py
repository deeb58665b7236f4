"""Property test: no fleet.yaml and no repository file makes fluxfleet crash, hang or print a file
outside the repository.

Each example takes a small working repository (a cluster folder with a Flux Kustomization, an
overlay, a HelmRelease and a ResourceSet; or a fleet.yaml), puts one hostile value (control
characters, NUL, a >4,300-digit integer, a 300-character name, `[/x]` markup, a value of the wrong
type, `!!set`, an integer key, a path to a canary file outside the repository) at one place, or
replaces a whole file, and runs a command in-process. Exit 70 (a bug), a traceback, a hang or a
byte of the canary in any output fails the example.

The suite runs a bounded, deterministic number of examples; ``make fuzz`` runs
``FLUXFLEET_FUZZ_EXAMPLES`` (10,000) with a random seed.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fluxfleet import yamlio
from fluxfleet.cli.main import main
from promote.promote_helpers import fleet_text
from render.helpers import DEPLOYMENT, PLACEHOLDER, ks

EXAMPLES = int(os.environ.get("FLUXFLEET_FUZZ_EXAMPLES", "40"))
# `make fuzz` splits the examples over shards that pytest-xdist runs side by side.
SHARDS = int(os.environ.get("FLUXFLEET_FUZZ_SHARDS", "1"))
LONG = EXAMPLES > 1000
HANG_SECONDS = 60
CANARY = "fluxfleet-canary-" + secrets.token_hex(12)
HOLE = "fuzzhole0"

HELMRELEASE = {
    "apiVersion": "helm.toolkit.fluxcd.io/v2",
    "kind": "HelmRelease",
    "metadata": {"name": "h", "namespace": "default"},
    "spec": {
        "interval": "1m",
        "chart": {"spec": {"chart": "c", "sourceRef": {"kind": "HelmRepository", "name": "r"}}},
        "valuesFrom": [{"kind": "ConfigMap", "name": "v"}],
        "values": {"a": 1},
    },
}
RESOURCESET = {
    "apiVersion": "fluxcd.controlplane.io/v1",
    "kind": "ResourceSet",
    "metadata": {"name": "rs", "namespace": "default"},
    "spec": {
        "inputs": [{"n": "one"}],
        "resources": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "<< inputs.n >>"}}],
    },
}
OVERLAY = {
    "resources": ["deploy.yaml"],
    "namePrefix": "p-",
    "images": [{"name": "nginx", "newTag": "1.25"}],
    "configMapGenerator": [{"name": "gen", "files": ["deploy.yaml"], "literals": ["a=b"]}],
    "patches": [
        {"patch": "- op: add\n  path: /metadata/labels\n  value: {x: y}\n", "target": {"kind": "Deployment"}}
    ],
}
FLUX_KS = ks(
    "apps",
    "./apps",
    targetNamespace="default",
    postBuild={"substitute": {"A": "b"}, "substituteFrom": [{"kind": "ConfigMap", "name": "vars"}]},
    patches=[
        {
            "patch": "- op: add\n  path: /metadata/annotations\n  value: {z: w}\n",
            "target": {"kind": "Deployment"},
        }
    ],
    dependsOn=[{"name": "flux-system"}],
)

REPO_FILES: dict[str, Any] = {
    "clusters/test/flux-system/gotk-components.yaml": PLACEHOLDER,
    "clusters/test/flux-system/gotk-sync.yaml": PLACEHOLDER,
    "clusters/test/apps.yaml": FLUX_KS,
    "clusters/test/hr.yaml": HELMRELEASE,
    "clusters/test/rs.yaml": RESOURCESET,
    "apps/kustomization.yaml": OVERLAY,
    "apps/deploy.yaml": yamlio.load_all(DEPLOYMENT)[0],
}
FLEET = yamlio.load_all(fleet_text())[0]


def _mutation_points(node: Any, at: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    yield at
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _mutation_points(value, (*at, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _mutation_points(value, (*at, i))


POINTS = [
    (rel, at)
    for rel, body in [*REPO_FILES.items(), ("fleet.yaml", FLEET)]
    if not isinstance(body, str)
    for at in _mutation_points(body)
    if at
]


# Paths out of the repository and device files are named in kustomization.yaml too: the render
# confines every path field (render/pathfields.py) and refuses devices, so none may leak the canary
# or hang. FLUXFLEET_FUZZ_CONFINED=0 limits them to fleet.yaml and Flux objects.
KUSTOMIZE_READ = {"apps/kustomization.yaml"}
CONFINED = os.environ.get("FLUXFLEET_FUZZ_CONFINED", "1") == "1"


def _hostile(tmp: Path) -> list[str]:
    """Hostile values as one-line YAML snippets (written in place of a value or a key); the ones
    naming something outside the repository come last, from ``OUTSIDE_FROM``."""
    canary = str(tmp / "canary.txt")
    return [
        "5",
        "true",
        "null",
        "{}",
        "[]",
        "x",
        '"x"',
        "!!set {a, b}",
        "{1: 2}",
        "[1, [2, {3: 4}]]",
        "9" * 4301,
        "-" + "7" * 5000,
        "0x" + "f" * 4000,
        "a" * 300,
        "a/" + "b" * 300 + "/c.yaml",
        '"a\\0b"',
        '"../\\0/x"',
        "[/x]",
        '"[bold]x[/bold] [/x]"',
        "${A} $(B) {{ c }} << inputs.n >>",
        "~/x",
        "*undefined_alias",
        "&a [*a, *a]",
        "\x01",
        '"\\x07\\x1b[31m"',
        "\ufeffx",
        '"\\ud800"',
        "1e400",
        ".nan",
        "v1.2.9\n",
        # from OUTSIDE_FROM on: outside the repository
        canary,
        "../canary.txt",
        "../../canary.txt",
        "./../" * 8 + "canary.txt",
        f"[{canary}]",
        f"[x={canary}]",
        "/proc/self/environ",
        "/dev/zero",
    ]


OUTSIDE_FROM = len(_hostile(Path("/"))) - 8  # the last eight values of _hostile


def _write(root: Path, files: dict[str, Any]) -> None:
    for rel, body in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body if isinstance(body, str) else yamlio.dump_all([body]), encoding="utf-8")


def _set(body: Any, at: tuple[str | int, ...], as_key: bool) -> Any:
    """A copy of ``body`` with the node at ``at`` (or its key) replaced by the hole marker."""
    body = json.loads(json.dumps(body))
    parent = body
    for part in at[:-1]:
        parent = parent[part]
    last = at[-1]
    if as_key and isinstance(parent, dict):
        parent[HOLE] = parent.pop(last)
    else:
        parent[last] = HOLE
    return body


class _Hang(BaseException):  # not an Exception: fluxfleet's crash handler must not take it
    pass


def _alarm(_signum: int, _frame: Any) -> None:
    raise _Hang


def _run(args: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_SECONDS)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
    except _Hang:
        raise AssertionError(f"fluxfleet {' '.join(args)} did not finish in {HANG_SECONDS}s") from None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return code, out.getvalue() + err.getvalue()


def _last_crash() -> str:
    import platformdirs

    reports = sorted((Path(platformdirs.user_state_dir("fluxfleet")) / "crash").glob("crash-*.txt"))
    return reports[-1].read_text() if reports else ""


COMMANDS = {
    "repo": [
        ["build", "-o", "json", "--no-cache"],
        ["get", "kustomizations", "-o", "json"],
        ["check", "-o", "json"],
    ],
    "fleet": [["validate", "-o", "json"], ["generate", "--check", "-o", "json"], ["clusters", "-o", "yaml"]],
}


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, tuple[str | int, ...] | None, bool, int | str, int]:
    """(file, where in it or None for the whole file, as a key?, hostile value index or text, command)."""
    if draw(st.integers(0, 9)) == 0:
        rel = draw(st.sampled_from([*REPO_FILES, "fleet.yaml"]))
        text = draw(st.text(min_size=0, max_size=200))
        return rel, None, False, text, draw(st.integers(0, 2))
    rel, at = draw(st.sampled_from(POINTS))
    as_key = draw(st.integers(0, 4)) == 0
    values = range(len(_hostile(Path("/"))))
    if rel in KUSTOMIZE_READ:
        values = range(len(_hostile(Path("/")))) if CONFINED else range(OUTSIDE_FROM)
    value = draw(st.sampled_from(list(values)))
    return rel, at, as_key, value, draw(st.integers(0, 2))


@settings(
    max_examples=max(1, EXAMPLES // SHARDS),
    deadline=None,
    derandomize=not LONG,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    print_blob=True,
)
@given(case=cases())
# Found by `make fuzz` once; kept so the suite always runs them.
@example(case=("clusters/test/apps.yaml", ("kind",), False, 8, 0))  # kind: {1: 2}
@example(case=("clusters/test/apps.yaml", ("apiVersion",), False, 12, 0))  # 0xfff...: 4,800 digits
@example(case=("clusters/test/apps.yaml", ("spec", "dependsOn"), False, 0, 0))  # dependsOn: 5
@example(case=("clusters/test/apps.yaml", ("spec", "dependsOn"), False, 0, 2))  # the same, `check`
@example(case=("clusters/test/apps.yaml", ("spec", "patches", 0, "patch"), False, 7, 0))  # !!set
@example(case=("apps/deploy.yaml", ("spec", "template", "spec", "containers", 0, "image"), True, 27, 2))
@pytest.mark.parametrize("shard", range(SHARDS))
def test_hostile_inputs_never_crash_hang_or_leak(shard: int, case: tuple[str, Any, bool, Any, int]) -> None:
    rel, at, as_key, value, command = case
    with tempfile.TemporaryDirectory(prefix="fluxfleet-fuzz-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "canary.txt").write_text(
            f"kind: ConfigMap\nmetadata: {{name: {CANARY}}}\ndata: {{k: {CANARY}}}\n"
        )
        repo = tmp / "repo"
        fleet_case = rel == "fleet.yaml"
        files: dict[str, Any] = {"fleet.yaml": FLEET} if fleet_case else dict(REPO_FILES)
        if at is None:
            files[rel] = value
        else:
            snippet = value if isinstance(value, str) else _hostile(tmp)[value]
            marked = yamlio.dump_all([_set(files[rel], at, as_key)])
            files[rel] = marked.replace(HOLE, snippet.replace("\n", "\\n") if "\n" in snippet else snippet)
        _write(repo, files)
        args = [*COMMANDS["fleet" if fleet_case else "repo"][command], "-C", str(repo)]
        code, output = _run(args)
    assert code != 70 and code in (0, 1, 2), f"exit {code} for {args}:\n{output}\n{_last_crash()}"
    assert "Traceback" not in output, output
    assert CANARY not in output, f"a file outside the repository reached the output of {args}"
