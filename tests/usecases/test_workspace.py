"""Workspace and the render/check/diff use cases through the library API (real git, real kustomize).

Regressions of issue 11: ``diff`` with ``spec.policy.rego``, the secrets rules reading the revision
being checked, fleet.yaml loaded once per command, one way to render a revision.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fluxfleet.cli.main import main
from fluxfleet.render.api import RenderOptions
from fluxfleet.usecases.fakes import RecordingTree
from fluxfleet.usecases.render import (
    BuildRequest,
    CheckRequest,
    DiffRequest,
    build_workspace,
    check_workspace,
    diff_workspaces,
)
from fluxfleet.usecases.workspace import Workspace
from gitcmd import git

from .helpers import NO_CACHE, OVERLAY


def test_diff_with_rego_policy_folders_renders_both_sides(repo: Path) -> None:
    assert main(["diff", "-C", str(repo)]) == 0
    overlay = repo / OVERLAY
    overlay.write_text(overlay.read_text().replace("newTag: v1", "newTag: v3"))
    assert main(["diff", "-C", str(repo), "HEAD"]) == 1


def test_a_revision_renders_the_same_from_git_as_from_disk(repo: Path) -> None:
    on_disk = build_workspace(BuildRequest(Workspace.open(repo), options=NO_CACHE)).renders
    at_head = build_workspace(BuildRequest(Workspace.open(repo, "HEAD"), options=NO_CACHE)).renders
    assert [r.cluster for r in at_head] == ["dev-a", "prod-a"]
    assert at_head == on_disk


def test_edits_are_rendered_from_memory_and_never_written(repo: Path) -> None:
    text = (repo / OVERLAY).read_text()
    edited = Workspace.open(repo, "HEAD").with_edits({OVERLAY: text.replace("newTag: v1", "newTag: v9")})
    renders = build_workspace(BuildRequest(edited, ("prod-a",), options=NO_CACHE)).renders
    images = {
        c["image"]
        for o in renders[0].objects
        if o.key.kind == "Deployment"
        for c in o.body["spec"]["template"]["spec"]["containers"]
    }
    assert images == {"ghcr.io/acme/web:v9"}
    assert (repo / OVERLAY).read_text() == text
    assert git(repo, "status", "--porcelain") == ""


def test_edits_cannot_leave_the_repository(repo: Path) -> None:
    from fluxfleet.errors import FleetError

    with pytest.raises(FleetError, match="escapes"):
        Workspace.open(repo, "HEAD").with_edits({"../outside.yaml": "x"})


ENCRYPTED_WITH_A_CLEAR_VALUE = """\
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: web
type: Opaque
data:
  password: ENC[AES256_GCM,data:AAAA,iv:BBBB,tag:CCCC,type:str]
  user: YWRtaW4=
sops:
  age:
    - recipient: age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq
      enc: |
        -----BEGIN AGE ENCRYPTED FILE-----
        AAAA
        -----END AGE ENCRYPTED FILE-----
  lastmodified: "2026-01-01T00:00:00Z"
  mac: ENC[AES256_GCM,data:DDDD,iv:EEEE,tag:FFFF,type:str]
  encrypted_regex: ^password$
  version: 3.9.0
"""


def test_secrets_rules_read_the_revision_being_checked(repo: Path) -> None:
    secret = "apps/web/overlays/prod/creds.sops.yaml"
    edited = Workspace.open(repo, "HEAD").with_edits({secret: ENCRYPTED_WITH_A_CLEAR_VALUE})
    outcome = check_workspace(
        CheckRequest(edited, ("prod-a",), rules=("sops-flux-compat",), options=NO_CACHE)
    )
    assert [(f.rule, f.cluster) for f in outcome.result.findings] == [("sops-flux-compat", "prod-a")]
    assert secret in outcome.result.findings[0].message and "data.user" in outcome.result.findings[0].message
    assert not (repo / secret).exists()
    clean = check_workspace(
        CheckRequest(Workspace.open(repo), ("prod-a",), rules=("sops-flux-compat",), options=NO_CACHE)
    )
    assert clean.result.findings == []


def _counting(repo: Path) -> tuple[Workspace, RecordingTree]:
    head = Workspace.open(repo, "HEAD")
    tree = RecordingTree(head.files(), repo)
    return Workspace(repo, tree, revision=head.revision), tree


def test_check_and_diff_load_the_fleet_once_per_revision(repo: Path) -> None:
    ws, tree = _counting(repo)
    outcome = check_workspace(CheckRequest(ws, options=NO_CACHE))
    assert [r.cluster for r in outcome.renders] == ["dev-a", "prod-a"]
    assert [f.message for f in outcome.result.findings if f.rule == "rego-policy"]  # policy/ was read
    assert tree.reads["fleet.yaml"] == 1
    base, base_tree = _counting(repo)
    head, head_tree = _counting(repo)
    result = diff_workspaces(DiffRequest(base, head, options=NO_CACHE))
    assert not result.result.changed
    assert (base_tree.reads["fleet.yaml"], head_tree.reads["fleet.yaml"]) == (1, 1)


def test_an_edited_tree_is_never_cached_as_its_commit(repo: Path, tmp_path: Path) -> None:
    cached = RenderOptions(cache_dir=tmp_path / "cache")
    head = Workspace.open(repo, "HEAD")
    text = head.read_text(OVERLAY)
    edited = head.with_edits({OVERLAY: text.replace("newTag: v1", "newTag: v7")})
    assert edited.revision is None and head.revision is not None
    first = diff_workspaces(DiffRequest(edited, Workspace.open(repo, "HEAD"), options=cached))
    assert first.result.changed
    again = diff_workspaces(DiffRequest(Workspace.open(repo, "HEAD"), Workspace.open(repo), options=cached))
    assert not again.result.changed
