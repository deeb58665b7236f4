"""Rego: conftest-style folders and Gatekeeper templates, evaluated with the embedded engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from check.helpers import cluster, dump, findings, hardened_deployment, run
from fluxfleet.check.rego import RegoPolicies, load_conftest, v0_constructs
from fluxfleet.errors import FleetError

V1_POLICY = """package main

import rego.v1

deny_latest contains msg if {
  input.kind == "Deployment"
  some c in input.spec.template.spec.containers
  endswith(c.image, ":latest")
  msg := sprintf("%s: container %s uses a :latest image", [input.metadata.name, c.name])
}

warn contains msg if {
  input.kind == "Pod"
  not input.metadata.labels.team
  msg := "pod has no team label"
}

violation contains {"msg": "no owner annotation", "details": {}} if {
  input.kind == "Service"
}

exception contains rules if {
  input.metadata.name == "legacy"
  rules := ["latest"]
}
"""

ALLOWED_REPOS_V1 = """package k8sallowedrepos

import rego.v1

violation contains {"msg": msg} if {
  container := input.review.object.spec.containers[_]
  not strings.any_prefix_match(container.image, input.parameters.repos)
  msg := sprintf("container <%v> has an invalid image repo <%v>, allowed repos are %v", [container.name, container.image, input.parameters.repos])
}

violation contains {"msg": msg} if {
  container := input.review.object.spec.initContainers[_]
  not strings.any_prefix_match(container.image, input.parameters.repos)
  msg := sprintf("initContainer <%v> has an invalid image repo <%v>, allowed repos are %v", [container.name, container.image, input.parameters.repos])
}
"""

ALLOWED_REPOS_V0 = """package k8sallowedrepos

violation[{"msg": msg}] {
  container := input.review.object.spec.containers[_]
  not strings.any_prefix_match(container.image, input.parameters.repos)
  msg := sprintf("container <%v> has an invalid image repo <%v>", [container.name, container.image])
}
"""


def template(rego: str, version: str | None = "v1") -> dict[str, Any]:
    source: dict[str, Any] = {"rego": rego}
    if version:
        source["version"] = version
    return {
        "apiVersion": "templates.gatekeeper.sh/v1",
        "kind": "ConstraintTemplate",
        "metadata": {"name": "k8sallowedrepos"},
        "spec": {
            "crd": {
                "spec": {
                    "names": {"kind": "K8sAllowedRepos"},
                    "validation": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"repos": {"type": "array", "items": {"type": "string"}}},
                        }
                    },
                }
            },
            "targets": [
                {"target": "admission.k8s.gatekeeper.sh", "code": [{"engine": "Rego", "source": source}]}
            ],
        },
    }


def constraint(
    match: dict[str, Any] | None = None, action: str = "deny", repos: Any = None
) -> dict[str, Any]:
    return {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": "K8sAllowedRepos",
        "metadata": {"name": "repo-is-acme"},
        "spec": {
            "enforcementAction": action,
            "match": match if match is not None else {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]},
            "parameters": {"repos": repos if repos is not None else ["ghcr.io/acme/"]},
        },
    }


POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "namespace": "apps"},
    "spec": {
        "containers": [{"name": "web", "image": "docker.io/library/nginx:1.27"}],
        "initContainers": [{"name": "init", "image": "ghcr.io/acme/init:1"}],
    },
}


def test_worked_example_from_the_reference() -> None:
    found = findings(cluster(dump(template(ALLOWED_REPOS_V1), constraint(), POD)), "gatekeeper-constraint")
    assert [f.message for f in found] == [
        "K8sAllowedRepos/repo-is-acme: container <web> has an invalid image repo <docker.io/library/nginx:1.27>, "
        'allowed repos are ["ghcr.io/acme/"]'
    ]
    assert found[0].severity.value == "high" and str(found[0].object) == "Pod/apps/web"


def test_pod_policies_apply_to_workload_templates() -> None:
    dep = hardened_deployment(namespace="apps")
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = "quay.io/x/web:1"
    found = findings(cluster(dump(template(ALLOWED_REPOS_V1), constraint(), dep)), "gatekeeper-constraint")
    assert len(found) == 1
    assert "[Pod from Deployment web]" in found[0].message and str(found[0].object) == "Deployment/apps/web"


def test_match_namespaces_labels_and_enforcement_action() -> None:
    objs = (template(ALLOWED_REPOS_V1), POD)
    excluded = constraint({"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}], "excludedNamespaces": ["app*"]})
    assert findings(cluster(dump(*objs, excluded)), "gatekeeper-constraint") == []
    other_ns = constraint({"namespaces": ["prod"]})
    assert findings(cluster(dump(*objs, other_ns)), "gatekeeper-constraint") == []
    labelled = constraint({"labelSelector": {"matchLabels": {"tier": "web"}}})
    assert findings(cluster(dump(*objs, labelled)), "gatekeeper-constraint") == []
    warn = constraint(action="warn")
    assert [f.severity.value for f in findings(cluster(dump(*objs, warn)), "gatekeeper-constraint")] == [
        "low"
    ]


def test_invalid_parameters_and_orphans_are_not_evaluated_but_reported_high() -> None:
    bad_params = constraint(repos="ghcr.io/acme/")
    render = cluster(dump(template(ALLOWED_REPOS_V1), bad_params, POD))
    assert findings(render, "gatekeeper-constraint") == []
    [problem] = findings(render, "gatekeeper-not-evaluated")
    assert "parameters invalid" in problem.message and problem.severity.value == "high"
    orphan = cluster(dump(constraint(), POD))
    assert "no ConstraintTemplate" in findings(orphan, "gatekeeper-not-evaluated")[0].message
    broken = cluster(dump(template("package k8sallowedrepos\nviolation[{", version=None), constraint(), POD))
    [problem] = findings(broken, "gatekeeper-not-evaluated")
    assert "Rego does not compile" in problem.message and "rego:2" in problem.message


def test_v0_templates_are_evaluated_as_gatekeeper_does() -> None:
    v0 = cluster(dump(template(ALLOWED_REPOS_V0, version=None), constraint(), POD))
    assert findings(v0, "gatekeeper-not-evaluated") == []
    assert [f.message for f in findings(v0, "gatekeeper-constraint")] == [
        "K8sAllowedRepos/repo-is-acme: container <web> has an invalid image repo <docker.io/library/nginx:1.27>"
    ]
    # v0 with `import rego.v1` accepts v1 keywords, as in OPA.
    v1_as_v0 = cluster(dump(template(ALLOWED_REPOS_V1, version=None), constraint(), POD))
    assert len(findings(v1_as_v0, "gatekeeper-constraint")) == 1


def test_inventory_is_available_to_templates() -> None:
    unique = """package k8suniquename
import rego.v1
violation contains {"msg": msg} if {
  name := input.review.object.metadata.name
  other := data.inventory.namespace[ns][_]["Pod"][name]
  ns != input.review.object.metadata.namespace
  msg := sprintf("pod name %v also used in namespace %v", [name, ns])
}
"""
    tmpl = template(unique)
    tmpl["spec"]["crd"]["spec"]["names"]["kind"] = "K8sUniqueName"
    tmpl["metadata"]["name"] = "k8suniquename"
    con = {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": "K8sUniqueName",
        "metadata": {"name": "u"},
        "spec": {},
    }
    other = {**POD, "metadata": {"name": "web", "namespace": "other"}}
    found = findings(cluster(dump(tmpl, con, POD, other)), "gatekeeper-constraint")
    assert sorted(f.message.split(": ", 1)[1] for f in found) == [
        "pod name web also used in namespace apps",
        "pod name web also used in namespace other",
    ]


def _policy_dir(tmp_path: Path, text: str) -> Path:
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "main.rego").write_text(text)
    (tmp_path / "policy" / "main_test.rego").write_text("this is not even rego")
    return tmp_path


def test_conftest_deny_warn_violation_and_exceptions(tmp_path: Path) -> None:
    repo = _policy_dir(tmp_path, V1_POLICY)
    policies = RegoPolicies(load_conftest(repo, ("policy",)))
    dep = hardened_deployment()
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/acme/web:latest"
    legacy = hardened_deployment(name="legacy")
    legacy["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/acme/web:latest"
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "shop"}, "spec": {}}
    found = findings(cluster(dump(dep, legacy, svc)), "rego-policy", rego=policies)
    got = sorted((f.severity.value, f.message) for f in found)
    assert ("high", "main.deny_latest: web: container web uses a :latest image") in got
    assert ("high", "main.violation: no owner annotation") in got
    assert sum("[Pod from Deployment" in m and s == "low" for s, m in got) == 2  # warn on synthesised Pods
    assert not any("legacy: container" in m for _, m in got)  # excepted by the policy


def test_v0_conftest_policy_fails_clearly(tmp_path: Path) -> None:
    repo = _policy_dir(tmp_path, 'package main\n\ndeny[msg] {\n  input.kind == "Pod"\n  msg := "x"\n}\n')
    with pytest.raises(FleetError) as err:
        load_conftest(repo, ("policy",))
    assert "Rego v0" in str(err.value) and "policy/main.rego:3" in str(err.value)


def test_engine_errors_are_quoted_not_printed(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    bad = "package main\nimport rego.v1\ndeny contains m if { some x in input.a; startswith(x, input.p[_]); m := x }\n"
    repo = _policy_dir(tmp_path, bad)
    with pytest.raises(FleetError) as err:
        load_conftest(repo, ("policy",))
    assert "Invalid bracket argument" in str(err.value)
    assert "Invalid bracket" not in capfd.readouterr().out


def test_missing_policy_folder_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(FleetError, match="does not exist"):
        load_conftest(tmp_path, ("policy",))
    with pytest.raises(FleetError):
        load_conftest(tmp_path, ("../outside",))


@pytest.mark.parametrize(
    ("source", "lines"),
    [
        ("package a\nallow {\n true\n}\n", [2]),
        ("package a\ndeny[msg] { msg := 1 }\n", [2]),
        ("package a\nf(x) = y {\n y := x\n}\n", [2]),
        ('package a\nimport rego.v1\ndeny contains msg if { msg := 1 }\nx := {"a": 1}\n', []),
        ('package a\nimport rego.v1\n# allow {\nallow if { input.x == "{" }\n', []),
        ("package a\nimport rego.v1\ndefault allow := false\nf(x) := y if {\n y := x\n}\n", []),
    ],
)
def test_v0_detection(source: str, lines: list[int]) -> None:
    assert v0_constructs(source) == lines


def test_rules_run_in_the_full_engine_without_policies() -> None:
    assert (
        run(cluster(dump(POD)), ["rego-policy", "gatekeeper-constraint", "gatekeeper-not-evaluated"]).findings
        == []
    )


def test_gatekeeper_policy_folder_applies_to_every_cluster(tmp_path: Path) -> None:
    from fluxfleet.check.rego import load_gatekeeper

    (tmp_path / "gatekeeper").mkdir()
    (tmp_path / "gatekeeper" / "repos.yaml").write_text(dump(template(ALLOWED_REPOS_V1), constraint(), POD))
    objs = load_gatekeeper(tmp_path, ("gatekeeper",))
    assert [o.key.kind for o in objs] == ["ConstraintTemplate", "K8sAllowedRepos"]  # the Pod is not policy
    found = findings(cluster(dump(POD)), "gatekeeper-constraint", rego=RegoPolicies(None, objs))
    assert len(found) == 1 and "docker.io/library/nginx" in found[0].message
    with pytest.raises(FleetError, match="does not exist"):
        load_gatekeeper(tmp_path, ("nope",))


def test_parse_errors_are_located_and_never_printed(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    repo = _policy_dir(tmp_path, V1_POLICY)
    (repo / "policy" / "zz_broken.rego").write_text("package main\n\ndeny contains msg if {  input.kind ==\n")
    with pytest.raises(FleetError) as err:
        load_conftest(repo, ("policy",))
    assert "policy/zz_broken.rego:3:" in str(err.value) and "unclosed" in str(err.value)
    assert capfd.readouterr().out == ""
