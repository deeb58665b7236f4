"""Proof for issue 10: everything `generate` and the scaffolding write is valid against the Flux CRD
schemas (strict: unknown fields are errors) and the Kubernetes schemas, and every cluster's render
passes the "would it reconcile" rules, for the example fleet and for fleets with alerts, with and
without the tenant lockdown. Real kustomize renders the clusters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fluxfleet import yamlio
from fluxfleet.check.rules.schema import FLUX_GROUPS
from fluxfleet.check.schemas import SchemaStore, validate, validate_flux_object
from fluxfleet.cli.main import main

RECONCILE_RULES = [
    "render-error",
    "schema",
    "flux-structure",
    "namespace-unset",
    "flux-source-missing",
    "flux-dependency-missing",
    "flux-apply-conflict",
    "flux-impersonation-unbound",
    "prune-system-namespace",
    "alert-receives-nothing",
]

ALERTS = """\
  alerts:
    type: slack
    channel: fleet-alerts
    secretRef: slack-webhook
"""
PROD_ALERTS = """\
    - name: prod
      interval: 10m
      alerts:
        type: github
        address: https://github.com/example/fleet
        secretRef: github-token
"""
MORE_PLATFORM = """\
    - name: sealed-secrets
      namespace: kube-system
      chart:
        repository: https://bitnami-labs.github.io/sealed-secrets
        name: sealed-secrets
        version: 2.16.1
    - name: ingress-extras
      namespace: ingress-nginx
      dependsOn: [ingress-nginx]
"""
TEAMLESS_APP = """\
    - name: web
      namespace: web
      images: [ghcr.io/example/web]
      versions: {dev: v1.0.0, staging: v1.0.0, prod: v1.0.0}
"""


def _fleet(tmp_path: Path, *, teams: bool, alerts: bool) -> Path:
    repo = tmp_path / "fleet"
    assert main(["init", "--example", str(repo)]) == 0
    fleet = repo / "fleet.yaml"
    text = fleet.read_text()
    if not teams:
        start = text.index("  # Tenants:")
        text = text[:start] + text[text.index("  clusters:\n") :]
        text = text.replace("      team: team-a\n", "")
    if alerts:
        text = text.replace("  clusters:\n", ALERTS + "\n  clusters:\n", 1)
        text = text.replace("    - name: prod\n      interval: 10m\n", PROD_ALERTS, 1)
        text = text.replace("\n  apps:\n", "\n" + MORE_PLATFORM + "\n  apps:\n")
        text += TEAMLESS_APP
    fleet.write_text(text)
    assert main(["generate", "-C", str(repo)]) == 0
    return repo


def _file_errors(repo: Path) -> list[str]:
    """Every document of every YAML file generate and the scaffolding wrote, against its schema."""
    store = SchemaStore()
    errors: list[str] = []
    checked = 0
    for path in sorted(repo.rglob("*.yaml")):
        rel = path.relative_to(repo).as_posix()
        if rel == "fleet.yaml" or rel == ".sops.yaml":
            continue
        for doc in yamlio.load_file(path):
            if not isinstance(doc, dict) or not doc.get("kind"):
                continue
            group, _, version = str(doc["apiVersion"]).rpartition("/")
            if group == "kustomize.config.k8s.io":
                continue  # kustomize's own file, checked by kustomize when rendering
            if group in FLUX_GROUPS:
                found = validate_flux_object(doc, store)
            else:
                validator = store.builtin(group, version, doc["kind"])
                found = (
                    [f"no Kubernetes schema for {doc['kind']}"]
                    if validator is None
                    else validate(validator, doc)
                )
            errors += [f"{rel}: {doc['kind']}/{doc['metadata'].get('name')}: {e}" for e in found]
            checked += 1
    assert checked > 100, checked
    return errors


@pytest.mark.slow
@pytest.mark.parametrize(("teams", "alerts"), [(True, False), (True, True), (False, True)])
def test_everything_generated_is_valid_and_would_reconcile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], teams: bool, alerts: bool
) -> None:
    repo = _fleet(tmp_path, teams=teams, alerts=alerts)
    assert _file_errors(repo) == []
    capsys.readouterr()
    args = ["check", "-C", str(repo), "-o", "json", "--fail-on", "info"]
    for rule in RECONCILE_RULES:
        args += ["-r", rule]
    code = main(args)
    report = json.loads(capsys.readouterr().out)
    messages = [f"{f['cluster']}: {f['rule']}: {f['message']}" for f in report["findings"]]
    assert messages == [] and code == 0
    if alerts:
        [provider, alert] = yamlio.load_file(repo / "clusters/dev/us-west-2/notifications/alerts.yaml")
        assert provider["spec"] == {
            "type": "slack",
            "channel": "fleet-alerts",
            "secretRef": {"name": "slack-webhook"},
        }
        assert alert["spec"]["eventMetadata"] == {
            "cluster": "dev-us-west-2",
            "environment": "dev",
            "region": "us-west-2",
        }
        namespaces = {s["namespace"] for s in alert["spec"]["eventSources"]}
        # under the lockdown notification-controller drops events from other namespaces
        assert namespaces == {"flux-system"} if teams else "cert-manager" in namespaces
        # the example automates myapp in dev; its first dev cluster runs the automation, so its Alert
        # also hears the image objects (alert-receives-nothing above proves they exist there)
        kinds = {s["kind"] for s in alert["spec"]["eventSources"]}
        assert {"ImageRepository", "ImagePolicy", "ImageUpdateAutomation"} <= kinds
        [_, other] = yamlio.load_file(repo / "clusters/dev/us-east-1/notifications/alerts.yaml")
        assert "ImageUpdateAutomation" not in {s["kind"] for s in other["spec"]["eventSources"]}
        [gh, _] = yamlio.load_file(repo / "clusters/prod/eu-west-1/notifications/alerts.yaml")
        assert gh["spec"]["type"] == "github" and gh["spec"]["address"] == "https://github.com/example/fleet"
