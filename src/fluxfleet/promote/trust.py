"""Which ledger records a gate may believe: trailers are words, the commit's content is the act.

Anyone can write ``Fluxfleet-Action: promote`` into a commit message (an empty commit costs
nothing). A record counts only when its commit did what the trailers say:

- promote / rollback of the final wave: the app's overlay for that environment names the version
  after the commit and did not before;
- an earlier wave: the fleet file gains the version (the wave's per-cluster pins);
- revert: the commit touches exactly the paths of the commit it names, which is an ancestor.
"""

from __future__ import annotations

from fluxfleet.errors import FleetError
from fluxfleet.fleet.load import Fleet
from fluxfleet.gitrepo import history
from fluxfleet.gitrepo import push as gitpush
from fluxfleet.gitrepo.git import Git
from fluxfleet.promote.ledger import Record
from fluxfleet.promote.state import overlay_path
from fluxfleet.promote.yamledit import image_tag


def _tag(content: bytes | None, image: str, path: str) -> str | None:
    if content is None:
        return None
    try:
        return image_tag(content.decode("utf-8", "replace"), image, path)
    except FleetError:
        return None


def _touched(git: Git, sha: str) -> set[str]:
    out = git.run("diff-tree", "--no-commit-id", "--name-only", "-r", "--end-of-options", sha).text
    return {p for p in out.split("\n") if p}


def trusted(git: Git, fleet: Fleet, records: tuple[Record, ...]) -> tuple[Record, ...]:
    """The ``records`` whose commits carry out their trailers (order kept)."""
    apps = {a.name: a for a in fleet.apps}
    wanted: list[tuple[str, str]] = []
    checks: list[tuple[Record, str, str]] = []  # record, image, overlay path
    for rec in records:
        app = apps.get(rec.app)
        if rec.action == "revert" or app is None or not app.image or not rec.version or len(rec.parents) != 1:
            continue
        origin = fleet.origins.get(f"apps/{app.name}")
        overlay, fleet_file = overlay_path(app, rec.env), origin.file if origin else "fleet.yaml"
        checks.append((rec, app.image, overlay))
        parent = rec.parents[0]
        wanted += [(rec.sha, overlay), (parent, overlay), (rec.sha, fleet_file), (parent, fleet_file)]
    blobs = history.read_at(git, wanted)
    ok: set[str] = set()
    for i, (rec, image, overlay) in enumerate(checks):
        overlay_after, overlay_before, fleet_after, fleet_before = blobs[4 * i : 4 * i + 4]
        version = str(rec.version)
        if rec.final:
            # The overlay names the version now; it changed, or the wave pins were cleared.
            done = _tag(overlay_after, image, overlay) == version and (
                _tag(overlay_before, image, overlay) != version or fleet_after != fleet_before
            )
        else:
            needle = version.encode()
            done = (fleet_after or b"").count(needle) > (fleet_before or b"").count(needle)
        if done:
            ok.add(rec.sha)
    for rec in records:
        if rec.action == "revert" and rec.reverts and len(rec.parents) == 1:
            try:
                if gitpush.is_ancestor(git, rec.reverts, rec.parents[0]) and _touched(
                    git, rec.sha
                ) == _touched(git, rec.reverts):
                    ok.add(rec.sha)
            except FleetError:
                continue
    return tuple(r for r in records if r.sha in ok)
