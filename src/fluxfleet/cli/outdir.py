"""``build -o dir:PATH``: write only into a folder fluxfleet owns, never over the user's files.

A folder is fluxfleet's when it is absent, empty, or holds the marker file a previous build wrote.
The marker lists every file written, so replacing a cluster's output removes exactly the files
fluxfleet put there before; a file the user added is never touched, and no folder of a git
repository's internals, the home folder or the file system root is accepted.
"""

from __future__ import annotations

from pathlib import Path

from fluxfleet.errors import FleetError
from fluxfleet.fsutil import check_relative, write_plan

MARKER = ".fluxfleet-build"
_HEADER = "# Written by `fluxfleet build -o dir:`; it lists the files it owns here. Do not edit.\n"


def output_folder(raw: str, repo: Path) -> Path:
    """The folder of ``-o dir:PATH``, refused when it could hold what is not fluxfleet's to replace."""
    if not raw.strip():
        raise FleetError("dir: needs a folder", field="--output", hint="e.g. -o dir:/tmp/rendered")
    if "\0" in raw:
        raise FleetError("the folder name contains a NUL byte", field="--output")
    target = Path(raw).expanduser().resolve()
    if target.exists() and not target.is_dir():
        raise FleetError(f"{raw!r} exists and is not a folder", field="--output")
    root = repo.resolve()
    if target == root or target in root.parents:
        raise FleetError(
            f"{raw!r} would write rendered files over the repository",
            field="--output",
            hint="choose a folder outside the repository, or a subfolder such as rendered/",
        )
    home = Path.home().resolve()
    if target == home or target in home.parents or ".git" in target.parts:
        raise FleetError(
            f"{raw!r} is not a folder for rendered files",
            field="--output",
            hint="name a folder of its own, e.g. -o dir:/tmp/rendered (never .git, ~ or /)",
        )
    _owned(target)  # refuse before rendering, not after
    return target


def _owned(target: Path) -> set[str]:
    """Files a previous build wrote into ``target``; refuses a folder that fluxfleet does not own."""
    if not target.exists():
        return set()
    marker = target / MARKER
    if marker.is_file() and not marker.is_symlink():
        owned: set[str] = set()
        for line in marker.read_text(encoding="utf-8", errors="replace").splitlines():
            if line and not line.startswith("#"):
                try:
                    owned.add(str(check_relative(line)))
                except FleetError:
                    continue  # a hand-edited marker never names a path outside the folder
        return owned
    if any(target.iterdir()):
        raise FleetError(
            f"{target} is not empty and was not written by fluxfleet",
            field="--output",
            hint=f"choose an empty or new folder; fluxfleet marks the folders it writes with {MARKER}",
        )
    return set()


def write_output(target: Path, files: dict[str, str], clusters: list[str]) -> None:
    """Write the rendered ``files``; each rendered cluster's earlier output is replaced whole."""
    owned = _owned(target)
    prefixes = tuple(f"{c}/" for c in clusters)
    gone = {p for p in owned if p.startswith(prefixes) and p not in files}
    plan: dict[str, str | None] = {**files, **{p: None for p in gone}}
    kept = (owned - gone) | set(files)
    plan[MARKER] = _HEADER + "".join(f"{p}\n" for p in sorted(kept))
    target.mkdir(parents=True, exist_ok=True)
    write_plan(target, plan)
