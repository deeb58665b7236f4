"""Policy configuration (enable, severity, per environment) and exception annotations."""

from __future__ import annotations

from datetime import date

import pytest

from check.helpers import cluster, dump, hardened_deployment, run
from fluxfleet.check.registry import all_rules
from fluxfleet.errors import FleetError
from fluxfleet.fleet.policy import load_policy_file, parse_policy


def latest() -> dict[str, object]:
    body = hardened_deployment()
    body["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/acme/web:latest"
    return body


def test_every_rule_has_id_severity_hint_and_doc() -> None:
    rules = all_rules()
    assert len(rules) >= 40
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids))
    for r in rules:
        assert r.hint and r.doc and "\n" not in r.hint and r.category


def test_disable_and_change_severity() -> None:
    render = cluster(dump(latest()))
    assert [f.severity.value for f in run(render, ["image-tag-pinned"]).findings] == ["high"]
    policy = {"rules": {"image-tag-pinned": {"severity": "low"}}}
    assert [f.severity.value for f in run(render, ["image-tag-pinned"], policy=policy).findings] == ["low"]
    policy = {"rules": {"image-tag-pinned": {"enabled": False}}}
    assert run(render, ["image-tag-pinned"], policy=policy).findings == []


def test_per_environment_overrides() -> None:
    policy = {
        "rules": {
            "image-tag-pinned": {"severity": "medium", "environments": {"prod": "critical", "dev": "off"}}
        }
    }
    dev = cluster(dump(latest()), labels={"environment": "dev"})
    prod = cluster(dump(latest()), labels={"environment": "prod"})
    stage = cluster(dump(latest()), labels={"environment": "staging"})
    assert run(dev, ["image-tag-pinned"], policy=policy).findings == []
    assert [f.severity.value for f in run(prod, ["image-tag-pinned"], policy=policy).findings] == ["critical"]
    assert [f.severity.value for f in run(stage, ["image-tag-pinned"], policy=policy).findings] == ["medium"]
    # an environment from fleet.yaml wins over labels
    opts = {"environment": {"dev-eu-1": "prod"}}
    assert [f.severity.value for f in run(dev, ["image-tag-pinned"], policy=policy, **opts).findings] == [
        "critical"
    ]


def test_unknown_rule_in_policy_is_an_error_with_suggestion() -> None:
    with pytest.raises(FleetError) as err:
        run(cluster(""), policy={"rules": {"image-tag-pined": {"enabled": False}}})
    assert "image-tag-pinned" in str(err.value)
    with pytest.raises(FleetError, match="unknown key"):
        parse_policy({"rulez": {}}, "fleet.yaml")


def test_exception_annotation_suppresses_until_expiry() -> None:
    body = latest()
    key = "exception.fluxfleet.dev/image-tag-pinned"
    body["metadata"]["annotations"] = {key: "vendor ships latest only; expires=2026-12-31"}
    result = run(cluster(dump(body)), ["image-tag-pinned", "exception-expired"], today=date(2026, 6, 1))
    assert result.findings == []
    assert [s.suppressed for s in result.suppressed] == ["vendor ships latest only (until 2026-12-31)"]
    expired = run(cluster(dump(body)), ["image-tag-pinned", "exception-expired"], today=date(2027, 1, 1))
    assert sorted(f.rule for f in expired.findings) == ["exception-expired", "image-tag-pinned"]
    assert "expired on 2026-12-31" in next(
        f.message for f in expired.findings if f.rule == "exception-expired"
    )


def test_invalid_and_unused_exceptions_are_findings() -> None:
    body = hardened_deployment()
    body["metadata"]["annotations"] = {
        "exception.fluxfleet.dev/image-tag-pined": "typo",
        "exception.fluxfleet.dev/probes": "",
        "exception.fluxfleet.dev/privileged": "not needed",
    }
    result = run(cluster(dump(body)), ["exception-invalid", "exception-unused", "probes", "privileged"])
    messages = sorted((f.rule, f.message) for f in result.findings)
    assert [m[0] for m in messages] == ["exception-invalid", "exception-invalid", "exception-unused"]
    assert any("image-tag-pinned" in m[1] for m in messages)
    assert any("needs a reason" in m[1] for m in messages)


def test_policy_file_for_repos_without_fleet_yaml(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert load_policy_file(tmp_path) is None
    (tmp_path / ".fluxfleet").mkdir()
    (tmp_path / ".fluxfleet" / "policy.yaml").write_text(
        "failOn: medium\nrules:\n  probes: {severity: low}\n"
    )
    policy = load_policy_file(tmp_path)
    assert policy is not None and policy.fail_on == "medium" and policy.rules["probes"].severity == "low"
    (tmp_path / ".fluxfleet" / "policy.yaml").write_text("failOn: sometimes\n")
    with pytest.raises(FleetError) as err:
        load_policy_file(tmp_path)
    assert err.value.location.file == ".fluxfleet/policy.yaml" and err.value.location.field == "failOn"
