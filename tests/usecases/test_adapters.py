"""The adapters the use cases take, with their recording and in-memory fakes: the kustomize engine,
sops, git (a Workspace from files in memory) and the clock."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fluxfleet.check.engine import run_checks
from fluxfleet.errors import FleetError
from fluxfleet.render.api import RenderOptions
from fluxfleet.usecases.checks import CheckSetup
from fluxfleet.usecases.clock import FixedClock, SystemClock, clock_at
from fluxfleet.usecases.fakes import RecordingEngine, RecordingSops
from fluxfleet.usecases.render import BuildRequest, build_workspace
from fluxfleet.usecases.workspace import Workspace

from .helpers import NO_CACHE
from .test_workspace import ENCRYPTED_WITH_A_CLEAR_VALUE


def test_recording_engine_shows_a_warm_cache_builds_nothing(repo: Path, tmp_path: Path) -> None:
    cold, warm = RecordingEngine.wrapping(), RecordingEngine.wrapping()
    ws = Workspace.open(repo)
    first = build_workspace(BuildRequest(ws, options=RenderOptions(cache_dir=tmp_path, engine=cold))).renders
    second = build_workspace(BuildRequest(ws, options=RenderOptions(cache_dir=tmp_path, engine=warm))).renders
    assert len(cold.builds) > 0 and warm.builds == []
    assert [(r.cluster, [o.body for o in r.objects]) for r in second] == [
        (r.cluster, [o.body for o in r.objects]) for r in first
    ]
    assert sum(len(r.objects) for r in first) > 10


def test_sops_adapter_is_asked_about_the_checked_revisions_content(repo: Path) -> None:
    secret = "apps/web/overlays/prod/creds.sops.yaml"
    ws = Workspace.open(repo, "HEAD").with_edits({secret: ENCRYPTED_WITH_A_CLEAR_VALUE})
    renders = build_workspace(BuildRequest(ws, ("prod-a",), options=NO_CACHE)).renders
    options = CheckSetup.for_workspace(ws).options(ws)
    assert options.sops_verify is None  # no key files: MACs are not checked
    sops = RecordingSops({secret: "MAC mismatch"})
    options.sops_verify = sops
    result = run_checks(renders, options, only=["sops-mac"])
    digest = hashlib.sha256(ENCRYPTED_WITH_A_CLEAR_VALUE.encode()).hexdigest()
    assert sops.calls == [(secret, digest)]
    assert [(f.rule, f.cluster) for f in result.findings] == [("sops-mac", "prod-a")]
    assert "MAC mismatch" in result.findings[0].message


def test_workspace_from_files_needs_no_git_and_no_disk(tmp_path: Path, repo: Path) -> None:
    files = Workspace.open(repo).files()
    ws = Workspace.from_files(tmp_path / "nowhere", files)
    assert ws.fleet.name == "t" and not (tmp_path / "nowhere").exists()
    renders = build_workspace(BuildRequest(ws, ("dev-a",), options=NO_CACHE)).renders
    assert [r.cluster for r in renders] == ["dev-a"] and not renders[0].errors
    broken = ws.with_edits(
        {"fleet.yaml": files["fleet.yaml"].decode().replace("  environments:", "  environmentz:")}
    )
    with pytest.raises(FleetError) as err:
        _ = broken.fleet
    assert "fleet.yaml" in str(err.value) and "environmentz" in str(err.value)


def test_clocks() -> None:
    at = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert FixedClock(at).now() == at
    assert clock_at("2026-03-02T10:00:00Z").now() == at
    assert clock_at("2026-03-02T10:00:00").now() == at  # no offset: UTC
    assert isinstance(clock_at(None), SystemClock)
    assert abs((SystemClock().now() - datetime.now(UTC)).total_seconds()) < 60
    with pytest.raises(FleetError, match="invalid time") as err:
        clock_at("next tuesday")
    assert err.value.location.field == "--now"
