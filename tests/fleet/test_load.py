"""Loading fleet.yaml: the example is valid; every kind of bad input names file, line and field."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fluxfleet.cli.main import main
from fluxfleet.errors import FleetError, FleetErrors
from fluxfleet.fleet.example import example_fleet_yaml
from fluxfleet.fleet.load import load_fleet
from fluxfleet.fleet.placement import explain_placement, place

MINI = """\
apiVersion: fluxfleet.dev/v1alpha1
kind: Fleet
metadata:
  name: mini
spec:
  source:
    url: https://example.com/fleet.git
  environments:
    - name: dev
    - name: prod
  clusters:
    - name: dev-a
      labels: {environment: dev, region: a}
    - name: prod-a
      labels: {environment: prod, region: a, tier: gold}
  platform:
    - name: ingress
      namespace: ingress
  apps:
    - name: web
      namespace: web
      placement:
        matchLabels: {environment: prod}
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "fleet.yaml").write_text(text)
    return tmp_path


def errors_of(tmp_path: Path, text: str) -> list[FleetError]:
    write(tmp_path, text)
    with pytest.raises(FleetError) as info:
        load_fleet(tmp_path)
    exc = info.value
    return exc.errors if isinstance(exc, FleetErrors) else [exc]


def one_error(tmp_path: Path, text: str) -> FleetError:
    errs = errors_of(tmp_path, text)
    assert len(errs) == 1, [str(e) for e in errs]
    return errs[0]


def test_example_fleet_is_valid(tmp_path: Path) -> None:
    fleet = load_fleet(write(tmp_path, example_fleet_yaml()))
    assert fleet.env_names == ["dev", "staging", "prod"]
    assert len(fleet.clusters) == 9
    assert {c.region for c in fleet.clusters} == {"us-west-2", "us-east-1", "eu-west-1"}
    assert [c.name for c in fleet.platform] == [
        "cert-manager",
        "ingress-nginx",
        "monitoring",
        "external-secrets",
    ]
    placement = place(fleet)
    assert len(placement.placed["myapp"]) == 9
    assert fleet.app("myapp").versions["dev"] == "v1.2.3"
    assert fleet.previous_env("staging") is not None and fleet.previous_env("dev") is None


def test_mini_placement(tmp_path: Path) -> None:
    fleet = load_fleet(write(tmp_path, MINI))
    placement = place(fleet)
    assert placement.placed == {"ingress": ("dev-a", "prod-a"), "web": ("prod-a",)}
    why = explain_placement(fleet.app("web"), fleet.cluster("dev-a"))
    assert not why.placed and "environment='dev'" in why.requirements[0].reason


def test_malformed_yaml_names_line_and_column(tmp_path: Path) -> None:
    err = one_error(tmp_path, MINI.replace("    - name: prod\n", "    - name: prod\n   bad: [\n"))
    assert err.location.file == "fleet.yaml"
    assert err.location.line is not None and err.location.line >= 10
    assert "malformed YAML" in err.message


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    err = one_error(tmp_path, MINI.replace("      placement:\n", "      placment:\n"))
    assert err.message == "unknown key `placment`"
    assert err.hint == "did you mean `placement`?"
    assert err.location.line == 22 and err.location.field == "spec.apps[0].placment"


def test_missing_region_label_hints_at_typo(tmp_path: Path) -> None:
    err = one_error(tmp_path, MINI.replace("{environment: dev, region: a}", "{environment: dev, regoin: a}"))
    assert "region" in err.message and err.hint == "did you mean `region`? (found `regoin`)"
    assert err.location.line == 13


def test_duplicate_cluster_names(tmp_path: Path) -> None:
    err = one_error(tmp_path, MINI.replace("name: prod-a", "name: dev-a"))
    assert "duplicate name 'dev-a'" in err.message and "fleet.yaml:12" in err.message
    assert err.location.line == 14


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("tier: gold", "tier: 'gold star'", "label value"),
        ("tier: gold", "'-tier': gold", "label key"),
        ("tier: gold", "'Example.com/tier': gold", "prefix"),
        ("name: web", "name: Web_App", "DNS-1123"),
        ("name: dev-a", "name: " + "a" * 64, "longer than 63"),
    ],
)
def test_invalid_names_and_labels(tmp_path: Path, old: str, new: str, needle: str) -> None:
    err = one_error(tmp_path, MINI.replace(old, new, 1))
    assert needle in err.message
    assert err.location.line is not None


def test_undeclared_environment(tmp_path: Path) -> None:
    err = one_error(tmp_path, MINI.replace("{environment: dev, region: a}", "{environment: devv, region: a}"))
    assert "'devv', which is not declared" in err.message
    assert err.hint == "did you mean `dev`?" and (err.location.line, err.location.column) == (13, 16)
    assert err.location.field == "spec.clusters[0].labels.environment"


@pytest.mark.parametrize(
    ("path", "needle"),
    [("/etc/passwd", "relative"), ("../outside", "escapes"), ("apps/../../x", "escapes")],
)
def test_paths_must_stay_in_repo(tmp_path: Path, path: str, needle: str) -> None:
    err = one_error(
        tmp_path, MINI.replace("      namespace: web\n", f"      namespace: web\n      path: {path}\n")
    )
    assert needle in err.message and err.location.field == "spec.apps[0].path"
    assert err.location.line == 22


def test_symlink_escape_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "apps").mkdir()
    os.symlink(outside, repo / "apps" / "web")
    errs = errors_of(repo, MINI)
    assert any("symlink" in e.message for e in errs)


def test_yaml_bomb_is_refused(tmp_path: Path) -> None:
    bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        bomb.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 10) + "]")
    err = one_error(tmp_path, "\n".join(bomb) + "\n")
    assert "YAML bomb" in (err.hint or "")


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    err = one_error(tmp_path, MINI + "#" + "x" * (5 * 1024 * 1024) + "\n")
    assert "over the limit" in err.message


def test_duplicate_keys_are_an_error(tmp_path: Path) -> None:
    err = one_error(tmp_path, MINI.replace("  name: mini\n", "  name: mini\n  name: other\n"))
    assert "duplicate key `name`" in err.message and err.location.line == 5


def test_wrong_api_version_hints(tmp_path: Path) -> None:
    err = one_error(tmp_path, MINI.replace("v1alpha1", "v1"))
    assert err.hint == "use apiVersion: fluxfleet.dev/v1alpha1"


def test_dependency_cycle_is_reported_as_path(tmp_path: Path) -> None:
    text = MINI.replace(
        "    - name: ingress\n      namespace: ingress\n",
        "    - name: ingress\n      namespace: ingress\n      dependsOn: [certs]\n"
        "    - name: certs\n      namespace: certs\n      dependsOn: [ingress]\n",
    )
    err = one_error(tmp_path, text)
    assert (
        "cycle: certs -> ingress -> certs" in err.message
        or "cycle: ingress -> certs -> ingress" in err.message
    )


def test_all_problems_reported_together(tmp_path: Path) -> None:
    text = MINI.replace("name: prod-a", "name: dev-a").replace(
        "{environment: dev, region: a}", "{environment: qa, region: a}"
    )
    errs = errors_of(tmp_path, text)
    assert len(errs) == 2


def test_fleet_d_fragments_are_merged_and_located(tmp_path: Path) -> None:
    write(tmp_path, MINI)
    (tmp_path / "fleet.d").mkdir()
    (tmp_path / "fleet.d" / "more.yaml").write_text(
        "apiVersion: fluxfleet.dev/v1alpha1\nkind: Fleet\nspec:\n  clusters:\n"
        "    - name: dev-b\n      labels: {environment: dev, region: b}\n"
    )
    fleet = load_fleet(tmp_path)
    assert [c.name for c in fleet.clusters] == ["dev-a", "prod-a", "dev-b"]
    (tmp_path / "fleet.d" / "bad.yaml").write_text(
        "apiVersion: fluxfleet.dev/v1alpha1\nkind: Fleet\nspec:\n  clusters:\n"
        "    - name: dev-a\n      labels: {environment: dev, region: b}\n"
    )
    with pytest.raises(FleetError) as info:
        load_fleet(tmp_path)
    assert info.value.location.file == "fleet.d/bad.yaml" and info.value.location.line == 5


def test_cli_exit_code_2_and_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, MINI.replace("placement:", "placment:"))
    assert main(["validate", "-C", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "fleet.yaml:22:7" in err and "did you mean `placement`?" in err and "Traceback" not in err


def test_selector_matching_nothing_is_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, MINI.replace("{environment: prod}", "{environment: qa}"))
    assert main(["validate", "-C", str(tmp_path)]) == 0
    assert "web: placement environment=qa matches no cluster" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("policy", "field", "needle"),
    [
        ("  policy:\n    fluxVersion: '1.0'\n", "spec.policy.fluxVersion", "outside the supported range"),
        (
            "  policy:\n    rules:\n      probes:\n        environments: {qa: high}\n",
            "spec.policy.rules.probes.environments.qa",
            "environment 'qa' is not declared",
        ),
        ("  policy:\n    rego: [policies]\n", "spec.policy.rego[0]", "does not exist"),
        (
            "  secrets:\n    ageRecipients: {qa: []}\n",
            "spec.secrets.ageRecipients.qa",
            "'qa' is not declared",
        ),
    ],
)
def test_policy_and_secrets_settings_are_located(
    tmp_path: Path, policy: str, field: str, needle: str
) -> None:
    err = one_error(tmp_path, MINI + policy)
    assert needle in err.message
    assert err.location.field == field and err.location.line is not None and err.location.line > 22


def test_unknown_check_rule_is_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, MINI + "  policy:\n    rules:\n      probez: {severity: high}\n")
    assert main(["check", "-C", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert (
        "fleet.yaml:26:7" in err and "unknown check rule 'probez'" in err and "did you mean `probes`?" in err
    )
    assert main(["check", "-C", str(tmp_path), "--flux-version", "9.9"]) == 2
    assert "outside the supported range" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        # a tag is written into the overlay's `newTag:` line, next to the image automation marker
        ("versions", '{dev: "v1\\nnewTag: evil"}', "not a valid image tag"),
        ("versions", '{dev: \'v1 # {"$imagepolicy": "x:y:tag"}\'}', "not a valid image tag"),
        ("pins", '{dev-a: "-v1"}', "not a valid image tag"),
        ("images", '["ghcr.io/acme/web\\n- evil"]', "not a valid image repository"),
        ("images", "['../../etc/passwd']", "not a valid image repository"),
        ("images", f"['ghcr.io/acme/web:{'x' * 200}']", "not a valid image tag"),
    ],
)
def test_image_tags_and_references_are_validated(tmp_path: Path, field: str, value: str, needle: str) -> None:
    err = one_error(
        tmp_path, MINI.replace("      namespace: web\n", f"      namespace: web\n      {field}: {value}\n")
    )
    assert needle in err.message and (err.location.field or "").startswith(f"spec.apps[0].{field}")
    assert err.location.line == 22


def test_valid_image_references_load(tmp_path: Path) -> None:
    refs = "[nginx, 'registry.local:5000/team/app:1.2.3', 'ghcr.io/a/b@sha256:" + "a" * 64 + "']"
    write(tmp_path, MINI.replace("      namespace: web\n", f"      namespace: web\n      images: {refs}\n"))
    assert load_fleet(tmp_path).apps[0].images[1] == "registry.local:5000/team/app:1.2.3"


@pytest.mark.parametrize(
    ("text", "needle", "field"),
    [
        ("  alerts: {type: slack, secretRef: hook, address: 'file:///etc/passwd'}\n", "http", "spec.alerts"),
        ('  alerts: {type: slack, secretRef: hook, channel: "a\\u0000b"}\n', "one line", "spec.alerts"),
        (f"  alerts: {{type: slack, secretRef: hook, channel: {'a' * 3000}}}\n", "2048", "spec.alerts"),
    ],
)
def test_alert_values_are_one_safe_line(tmp_path: Path, text: str, needle: str, field: str) -> None:
    err = one_error(tmp_path, MINI.replace("  source:\n", text + "  source:\n", 1))
    assert needle in err.message and (err.location.field or "").startswith(field)
    assert err.location.line == 6


@pytest.mark.parametrize(
    ("check", "needle"),
    [
        ("{apiVersion: apps/v1, kind: Deployment, name: web, namespace: ../x}", "DNS-1123"),
        ("{apiVersion: apps/v1, kind: Deployment, name: 'web\\nx'}", "not a valid name"),
        ("{apiVersion: 'apps/v1 x', kind: Deployment, name: web}", "not a valid api_version"),
        ("{apiVersion: apps/v1, kind: 'Deploy ment', name: web}", "not a valid kind"),
    ],
)
def test_health_checks_name_kubernetes_objects(tmp_path: Path, check: str, needle: str) -> None:
    err = one_error(
        tmp_path,
        MINI.replace("      namespace: web\n", f"      namespace: web\n      healthChecks: [{check}]\n"),
    )
    assert needle in err.message and (err.location.field or "").startswith("spec.apps[0].healthChecks")


def test_an_environment_switches_alerts_off_with_enabled_false_alone(tmp_path: Path) -> None:
    text = MINI.replace("  source:\n", "  alerts: {type: slack, secretRef: hook}\n  source:\n", 1)
    write(
        tmp_path, text.replace("    - name: prod\n", "    - name: prod\n      alerts: {enabled: false}\n", 1)
    )
    fleet = load_fleet(tmp_path)
    assert fleet.env("prod").alerts is not None and fleet.env("prod").alerts.enabled is False
    assert fleet.env("dev").alerts is None and fleet.alerts is not None and fleet.alerts.enabled
