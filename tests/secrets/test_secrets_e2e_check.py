"""generate -> real sops -> render -> check: tenants and secrets pass, and each broken guardrail is caught."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fluxfleet import yamlio

pytestmark = pytest.mark.slow

SECRET_RULES = ("sops-recipients", "sops-mac", "sops-flux-compat", "secret-plaintext", "flux-sops-decryption")
TENANT_RULES = (
    "tenant-default-deny-netpol",
    "tenant-resource-quota",
    "no-cluster-admin-for-tenants",
    "rbac-least-privilege",
    "flux-tenant-impersonation",
    "flux-tenant-sa-scope",
    "flux-cross-namespace-source",
)


def _check(run, repo: Path, *rules: str) -> list[dict[str, object]]:
    args = ["check", "-C", str(repo), "-o", "json"]
    for r in rules:
        args += ["-r", r]
    code, out, err = run(*args)
    assert code in (0, 1), err
    return list(json.loads(out)["findings"])


def _add_to_overlay(repo: Path, env: str, name: str) -> None:
    path = repo / "apps/web/overlays" / env / "kustomization.yaml"
    text = path.read_text()
    path.write_text(text.replace("- ../../base\n", f"- ../../base\n- {name}\n"))


@pytest.fixture
def generated(keyed_repo: Path, run) -> Path:
    code, _, err = run("generate", "-C", str(keyed_repo))
    assert code == 0, err
    return keyed_repo


def test_generated_tenants_pass_the_tenant_checks(generated: Path, run) -> None:
    assert _check(run, generated, *TENANT_RULES) == []
    fs = (generated / "clusters/dev/eu/flux-system/kustomization.yaml").read_text()
    assert "--no-cross-namespace-refs=true" in fs and "--default-service-account=default" in fs


@pytest.mark.parametrize(
    ("guardrail", "rule"),
    [
        ("networkPolicy", "tenant-default-deny-netpol"),
        ("resourceQuota", "tenant-resource-quota"),
        ("impersonation", "flux-tenant-impersonation"),
    ],
)
def test_turning_a_guardrail_off_fails_its_check(generated: Path, run, guardrail: str, rule: str) -> None:
    fleet = generated / "fleet.yaml"
    fleet.write_text(
        fleet.read_text().replace(
            "      allowIngressFrom: [ingress-nginx]\n", f"      guardrails: {{{guardrail}: false}}\n"
        )
    )
    assert run("generate", "-C", str(generated))[0] == 0
    findings = _check(run, generated, rule)
    assert {f["rule"] for f in findings} == {rule}
    assert {f["cluster"] for f in findings} == {"dev-eu", "prod-eu"}


def test_sealed_secret_is_masked_and_checked_per_environment(
    generated: Path, keys: Path, run, write_secret, monkeypatch
) -> None:
    secret = write_secret(generated, "apps/web/overlays/dev/db.yaml")
    assert run("secrets", "encrypt", str(secret), "-C", str(generated))[0] == 0
    _add_to_overlay(generated, "dev", "db.yaml")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(keys / "dev.agekey"))
    assert _check(run, generated, *SECRET_RULES) == []
    # the render masks it the way `flux build` does: no ciphertext, no plaintext
    code, out, _ = run("build", "-C", str(generated), "-c", "dev-eu", "-o", "yaml")
    assert code == 0
    assert "s3cr3t-Value" not in out and "ENC[AES256_GCM" not in out
    # a prod-only secret dropped into the dev overlay: dev clusters cannot decrypt it
    other = write_secret(generated, "apps/web/overlays/dev/prod-only.yaml")
    other.write_text(other.read_text().replace("name: db", "name: prod-only"))
    assert run("secrets", "encrypt", str(other), "--env", "prod", "-C", str(generated))[0] == 0
    _add_to_overlay(generated, "dev", "prod-only.yaml")
    findings = _check(run, generated, "sops-recipients", "sops-mac")
    assert {(f["rule"], f["cluster"]) for f in findings} == {
        ("sops-recipients", "dev-eu"),
        ("sops-mac", "dev-eu"),
    }
    assert all("prod-only.yaml" in str(f["message"]) for f in findings)
    assert not any("s3cr3t-Value" in json.dumps(f) for f in findings)


def test_tampered_secret_fails_the_mac_check(
    generated: Path, keys: Path, run, write_secret, monkeypatch
) -> None:
    secret = write_secret(generated, "apps/web/overlays/dev/db.yaml")
    assert run("secrets", "encrypt", str(secret), "-C", str(generated))[0] == 0
    _add_to_overlay(generated, "dev", "db.yaml")
    doc = yamlio.load_all(secret.read_text())[0]
    assert doc["metadata"]["name"] == "db"
    secret.write_text(secret.read_text().replace("type: Opaque", "type: Opaque2"))
    assert _check(run, generated, "sops-mac") == []  # no key given: MACs are not checked
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(keys / "dev.agekey"))
    [finding] = _check(run, generated, "sops-mac")
    assert "MAC does not match" in str(finding["message"]) and finding["cluster"] == "dev-eu"


def test_hand_edited_value_in_clear_text_fails_flux_compat(generated: Path, run, write_secret) -> None:
    secret = write_secret(generated, "apps/web/overlays/dev/db.yaml")
    assert run("secrets", "encrypt", str(secret), "-C", str(generated))[0] == 0
    _add_to_overlay(generated, "dev", "db.yaml")
    assert _check(run, generated, "sops-flux-compat") == []
    text = secret.read_text()
    doc = yamlio.load_all(text)[0]
    key, value = next(iter((doc.get("stringData") or doc["data"]).items()))
    secret.write_text(text.replace(str(value), "cGxhaW4=", 1))  # a value pasted in by hand, unencrypted
    findings = _check(run, generated, "sops-flux-compat")
    assert {f["cluster"] for f in findings} == {"dev-eu"}
    assert key in str(findings[0]["message"]) and "clear text" in str(findings[0]["message"])
    assert "cGxhaW4=" not in json.dumps(findings)
