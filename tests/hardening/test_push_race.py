"""Push under contention: 8 promoters race on one bare remote with the default retry settings,
and every promotion lands, linear, each checked on the commit it sits on."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from fluxfleet.promote.apply import DEFAULT_RETRIES, backoff
from promote.promote_helpers import APPS, git, make_repo, overlay, trailers, with_remote


def test_backoff_is_jittered_and_bounded() -> None:
    rng = random.Random(7)
    waits = [backoff(n, rng) for n in range(1, 40)]
    assert all(0 <= w <= 4.0 for w in waits)
    assert len({round(w, 6) for w in waits}) == len(waits)  # jitter: no two racers in lockstep
    assert max(waits[10:]) > 1.0  # and it grows: later losses wait longer


@pytest.mark.slow
def test_eight_promoters_all_land_with_default_settings(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "origin-src")
    bare, clones = with_remote(repo, tmp_path, clones=8)
    # Each app to dev (a new version) and to staging (v2, forced past the source gate because the
    # dev promotion of the same app may land first): 8 distinct changes, none a no-op.
    jobs = [(app, "dev", ["--version", "v5"]) for app in APPS]
    jobs += [(app, "staging", ["--version", "v2", "--force", "race test"]) for app in APPS]
    code = "import sys; from fluxfleet.cli.main import main; sys.exit(main(sys.argv[1:]))"
    common = ["--push", "--skip-checks", "race test"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, "promote", app, "--to", env, *extra, *common, "-C", str(clone)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=os.environ,
        )
        for clone, (app, env, extra) in zip(clones, jobs, strict=True)
    ]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err.decode()
    log = git(bare, "log", "--format=%H %P", "main").splitlines()
    landed = git(bare, "log", "--format=%(trailers:key=Fluxfleet-Env,valueonly)", "main").split()
    assert sorted(landed) == sorted(["dev"] * 4 + ["staging"] * 4)
    assert git(bare, "rev-list", "--merges", "main") == ""
    for line in log[:8]:
        sha, parent = line.split()
        assert trailers(bare, sha)["Fluxfleet-Checked-On"] == parent
    fresh = tmp_path / "check"
    git(tmp_path, "clone", "-q", str(bare), str(fresh))
    for app in APPS:
        assert "newTag: v5" in overlay(fresh, app, "dev")
        assert "newTag: v2" in overlay(fresh, app, "staging")
    assert DEFAULT_RETRIES >= 8
