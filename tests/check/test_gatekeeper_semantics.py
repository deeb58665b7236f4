"""Gatekeeper semantics beyond the library suites: matching, Config, enforcement actions, mutation,
ValidatingAdmissionPolicy, and hostile suite files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from check.helpers import cluster, dump, findings
from fluxfleet import yamlio
from fluxfleet.check import gkmatch, gkmutate
from fluxfleet.cli.main import main


@pytest.fixture(scope="module")
def library(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "gatekeeper-library" / "library"


def _load(path: Path) -> dict[str, Any]:
    doc = yamlio.load_file(path)[0]
    assert isinstance(doc, dict)
    return doc


def pod(name: str = "web", namespace: str = "apps", labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": [{"name": "web", "image": "nginx", "securityContext": {"privileged": True}}]},
    }


def required_owner(action: str = "deny", match: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "enforcementAction": action,
        "match": {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}], **(match or {})},
        "parameters": {"labels": [{"key": "owner"}]},
    }
    if action == "scoped":
        spec["scopedEnforcementActions"] = [
            {"action": "warn", "enforcementPoints": [{"name": "validation.gatekeeper.sh"}]},
            {"action": "deny", "enforcementPoints": [{"name": "gator.gatekeeper.sh"}]},
        ]
    return {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": "K8sRequiredLabels",
        "metadata": {"name": "need-owner"},
        "spec": spec,
    }


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}


# ------------------------------------------------------------------ matching


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("kube-*", "kube-system", True),
        ("*-system", "kube-system", True),
        ("*ube-sys*", "kube-system", True),
        ("kube", "kube-system", False),
        ("kube-system", "kube-system", True),
    ],
)
def test_glob_forms(pattern: str, value: str, expected: bool) -> None:
    assert gkmatch.glob(pattern, value) is expected


def test_match_scope_names_and_namespace_selector() -> None:
    ns_prod = namespace("prod", {"env": "prod"})
    lookup = {"prod": ns_prod}.get
    p = pod(namespace="prod")
    assert gkmatch.matches({"scope": "Namespaced"}, p, None, "prod", lookup)
    assert not gkmatch.matches({"scope": "Cluster"}, p, None, "prod", lookup)
    # A Namespace is matched by its own name and labels, and counts as cluster-scoped.
    assert gkmatch.matches({"scope": "Cluster", "namespaces": ["prod"]}, ns_prod, None, "", lookup)
    assert gkmatch.matches({"namespaceSelector": {"matchLabels": {"env": "prod"}}}, ns_prod, None, "", lookup)
    assert not gkmatch.matches({"excludedNamespaces": ["pr*"]}, p, None, "prod", lookup)
    assert gkmatch.matches({"name": "we*"}, p, None, "prod", lookup)
    generated = {**p, "metadata": {"generateName": "web-", "namespace": "prod"}}
    assert gkmatch.matches({"name": "web-*"}, generated, None, "prod", lookup)
    expr = {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]}
    assert gkmatch.matches({"namespaceSelector": expr}, p, None, "prod", lookup)
    with pytest.raises(gkmatch.MatchError, match="namespace 'nowhere' is unknown"):
        gkmatch.matches({"namespaceSelector": expr}, pod(namespace="nowhere"), None, "nowhere", lookup)
    # Either the object or the old object matching is enough.
    assert gkmatch.matches(
        {"labelSelector": {"matchLabels": {"a": "b"}}}, p, pod(labels={"a": "b"}), "", lookup
    )


def test_check_namespace_selector_config_exclusion_and_actions(library: Path) -> None:
    tmpl = _load(library / "general/requiredlabels/template.yaml")
    selected = required_owner(match={"namespaceSelector": {"matchLabels": {"team": "shop"}}})
    render = cluster(
        dump(
            tmpl,
            selected,
            namespace("apps", {"team": "shop"}),
            namespace("other"),
            pod(),
            pod(namespace="other"),
        )
    )
    found = findings(render, "gatekeeper-constraint")
    # The template's CEL code runs (as in Gatekeeper); both of its validations fail.
    assert [(str(f.object), f.message) for f in found] == [
        ("Pod/apps/web", "K8sRequiredLabels/need-owner: missing required label, requires all of: owner"),
        ("Pod/apps/web", "K8sRequiredLabels/need-owner: regex mismatch"),
    ]
    assert found[0].message.startswith("K8sRequiredLabels/need-owner: missing required label")
    # Every namespace carries kubernetes.io/metadata.name, so selecting by name works for built-ins.
    by_name = required_owner(
        match={"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}
    )
    render = cluster(dump(tmpl, by_name, pod(namespace="kube-system"), pod()))
    assert {str(f.object) for f in findings(render, "gatekeeper-constraint")} == {"Pod/kube-system/web"}
    # Namespace "apps" is not in the render: its labels are unknown, which is said, not guessed.
    [unknown] = findings(render, "gatekeeper-not-evaluated")
    assert str(unknown.object) == "Pod/apps/web" and "namespace 'apps' is unknown" in unknown.message
    config = {
        "apiVersion": "config.gatekeeper.sh/v1alpha1",
        "kind": "Config",
        "metadata": {"name": "config", "namespace": "gatekeeper-system"},
        "spec": {"match": [{"excludedNamespaces": ["kube-*"], "processes": ["*"]}]},
    }
    assert (
        findings(cluster(dump(tmpl, by_name, config, pod(namespace="kube-system"))), "gatekeeper-constraint")
        == []
    )
    for action, severity in (("warn", "low"), ("dryrun", "info"), ("scoped", "low")):
        found = findings(cluster(dump(tmpl, required_owner(action), pod())), "gatekeeper-constraint")
        assert [f.severity.value for f in found] == [severity, severity], action


# ------------------------------------------------------------------ mutation


def test_mutation_runs_before_validation(library: Path) -> None:
    tmpl = _load(library / "general/requiredlabels/template.yaml")
    add_owner = {
        "apiVersion": "mutations.gatekeeper.sh/v1",
        "kind": "AssignMetadata",
        "metadata": {"name": "owner"},
        "spec": {
            "match": {"namespaces": ["apps"]},
            "location": "metadata.labels.owner",
            "parameters": {"assign": {"value": "platform"}},
        },
    }
    assert findings(cluster(dump(tmpl, required_owner(), add_owner, pod())), "gatekeeper-constraint") == []
    assert (
        len(
            findings(
                cluster(dump(tmpl, required_owner(), add_owner, pod(namespace="b"))), "gatekeeper-constraint"
            )
        )
        == 2
    )
    priv = _load(library / "pod-security-policy/privileged-containers/template.yaml")
    con = {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": "K8sPSPPrivilegedContainer",
        "metadata": {"name": "no-priv"},
        "spec": {"match": {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]}},
    }
    unprivileged = {
        "apiVersion": "mutations.gatekeeper.sh/v1",
        "kind": "Assign",
        "metadata": {"name": "unprivileged"},
        "spec": {
            "applyTo": [{"groups": [""], "kinds": ["Pod"], "versions": ["v1"]}],
            "location": "spec.containers[name: *].securityContext.privileged",
            "parameters": {"assign": {"value": False}},
        },
    }
    assert len(findings(cluster(dump(priv, con, pod())), "gatekeeper-constraint")) == 1
    assert findings(cluster(dump(priv, con, unprivileged, pod())), "gatekeeper-constraint") == []
    image = {
        "apiVersion": "mutations.gatekeeper.sh/v1alpha1",
        "kind": "AssignImage",
        "metadata": {"name": "i"},
        "spec": {},
    }
    [problem] = findings(cluster(dump(priv, con, image, pod())), "gatekeeper-not-evaluated")
    assert (
        "AssignImage mutators are not applied offline" in problem.message and problem.severity.value == "high"
    )


def test_assign_path_tests_and_modifyset() -> None:
    def mutator(kind: str, location: str, params: dict[str, Any], name: str = "m") -> gkmutate.Mutator:
        return gkmutate.parse_mutator(
            {
                "apiVersion": "mutations.gatekeeper.sh/v1",
                "kind": kind,
                "metadata": {"name": name},
                "spec": {
                    "applyTo": [{"groups": [""], "kinds": ["Pod"], "versions": ["v1"]}],
                    "location": location,
                    "parameters": params,
                },
            }
        )

    p = pod()
    p["spec"]["containers"][0]["args"] = ["--a", "--b"]
    merge = mutator("ModifySet", "spec.containers[name: web].args", {"values": {"fromList": ["--b", "--c"]}})
    prune = mutator(
        "ModifySet",
        "spec.containers[name: web].args",
        {"operation": "prune", "values": {"fromList": ["--a"]}},
        "n",
    )
    out = gkmutate.mutate([merge], p, {}.get)
    assert out["spec"]["containers"][0]["args"] == ["--a", "--b", "--c"]
    assert p["spec"]["containers"][0]["args"] == ["--a", "--b"]  # the input is not changed
    assert gkmutate.mutate([merge, prune], p, {}.get)["spec"]["containers"][0]["args"] == ["--b", "--c"]
    keep = mutator(
        "Assign",
        "spec.securityContext.runAsUser",
        {
            "assign": {"value": 1000},
            "pathTests": [{"subPath": "spec.securityContext.runAsUser", "condition": "MustNotExist"}],
        },
    )
    assert gkmutate.mutate([keep], p, {}.get)["spec"]["securityContext"] == {"runAsUser": 1000}
    p["spec"]["securityContext"] = {"runAsUser": 5}
    assert gkmutate.mutate([keep], p, {}.get)["spec"]["securityContext"] == {"runAsUser": 5}
    sidecar = mutator("Assign", 'spec.containers[name: "log"].image', {"assign": {"value": "busybox"}})
    assert [c["name"] for c in gkmutate.mutate([sidecar], p, {}.get)["spec"]["containers"]] == ["web", "log"]
    with pytest.raises(gkmutate.MutationError, match="under metadata"):
        mutator("Assign", "metadata.labels.x", {"assign": {"value": "y"}})
    with pytest.raises(gkmutate.MutationError, match="cannot parse"):
        mutator("Assign", "spec.[", {"assign": {"value": "y"}})


# ------------------------------------------------------------------ ValidatingAdmissionPolicy


def vap_objects(action: str = "Deny", param_name: str = "limits") -> list[dict[str, Any]]:
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "max-replicas"},
        "spec": {
            "failurePolicy": "Fail",
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["apps"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["deployments"],
                    }
                ]
            },
            "matchConditions": [
                {
                    "name": "not-skipped",
                    "expression": "!has(object.metadata.labels) || !('skip' in object.metadata.labels)",
                }
            ],
            "variables": [{"name": "limit", "expression": "int(params.data.max)"}],
            "validations": [
                {
                    "expression": "object.spec.replicas <= variables.limit",
                    "messageExpression": "'replicas ' + string(object.spec.replicas) + ' > ' + string(variables.limit)",
                },
                {
                    "expression": "object.metadata.name.lowerAscii() == object.metadata.name",
                    "message": "name must be lower case",
                },
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": "max-replicas-apps"},
        "spec": {
            "policyName": "max-replicas",
            "validationActions": [action],
            "paramRef": {"name": param_name, "namespace": "policy", "parameterNotFoundAction": "Deny"},
            "matchResources": {"namespaceSelector": {"matchLabels": {"team": "shop"}}},
        },
    }
    params = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "limits", "namespace": "policy"},
        "data": {"max": "5"},
    }
    return [policy, binding, params, namespace("apps", {"team": "shop"}), namespace("other")]


def deployment(
    name: str, namespace: str = "apps", replicas: int = 10, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, **({"labels": labels} if labels else {})},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": []}},
        },
    }


def test_validating_admission_policy_with_params_variables_and_conditions() -> None:
    objs = [
        *vap_objects(),
        deployment("web"),
        deployment("Small", replicas=1),
        deployment("skipped", labels={"skip": "y"}),
        deployment("elsewhere", "other"),
    ]
    found = findings(cluster(dump(*objs)), "admission-policy")
    assert sorted((str(f.object), f.message, f.severity.value) for f in found) == [
        (
            "Deployment/apps/Small",
            "ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas-apps' denied request: name must be lower case",
            "high",
        ),
        (
            "Deployment/apps/web",
            "ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas-apps' denied request: replicas 10 > 5",
            "high",
        ),
    ]
    warned = findings(cluster(dump(*vap_objects("Warn"), deployment("web"))), "admission-policy")
    assert [f.severity.value for f in warned] == ["low"] and "failed: replicas 10 > 5" in warned[0].message
    missing = findings(cluster(dump(*vap_objects(param_name="nope"), deployment("web"))), "admission-policy")
    assert [f.message.split(": ", 1)[1] for f in missing] == [
        "no params found for binding: ConfigMap nope in namespace policy is not in the render"
    ]


def test_vap_binding_without_policy_is_not_evaluated() -> None:
    _, binding, *_ = vap_objects()
    [problem] = findings(cluster(dump(binding, deployment("web"))), "gatekeeper-not-evaluated")
    assert "no ValidatingAdmissionPolicy 'max-replicas' in the render" in problem.message


# ------------------------------------------------------------------ policy test on hostile suites


def _suite(tmp_path: Path, tests: list[dict[str, Any]]) -> Path:
    (tmp_path / "suite.yaml").write_text(
        json.dumps({"kind": "Suite", "apiVersion": "test.gatekeeper.sh/v1alpha1", "tests": tests})
    )
    return tmp_path


def test_suite_paths_stay_inside_the_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    repo.mkdir()
    outside.mkdir()
    (tmp_path / "secret.yaml").write_text("kind: Secret\n")
    escape = {
        "name": "escape",
        "template": "../secret.yaml",
        "constraint": "c.yaml",
        "cases": [{"name": "x"}],
    }
    _suite(repo, [escape])
    _suite(outside, [{**escape, "name": "from-a-symlinked-folder"}])
    (repo / "linked").symlink_to(outside, target_is_directory=True)
    assert main(["policy", "test", "-C", str(repo), "-o", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [s["path"] for s in data["suites"]] == ["suite.yaml"]
    [case] = data["suites"][0]["cases"]
    assert case["status"] == "fail" and "leaves the repository root" in case["detail"]
    assert main(["policy", "test", "-C", str(repo), "linked/suite.yaml"]) == 2
    assert "outside the repository root" in capsys.readouterr().err


def test_malformed_suite_is_a_located_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "suite.yaml").write_text("kind: Suite\napiVersion: test.gatekeeper.sh/v1alpha1\ntests: [\n")
    assert main(["policy", "test", "-C", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "suite.yaml:" in err and "Traceback" not in err
    _suite(tmp_path, [{"name": "t"}])
    (tmp_path / "suite.yaml").write_text("kind: Suite\napiVersion: test.gatekeeper.sh/v1alpha1\ntests: 3\n")
    assert main(["policy", "test", "-C", str(tmp_path)]) == 2
    assert "field `tests`" in capsys.readouterr().err
    (tmp_path / "suite.yaml").write_text(
        "kind: Suite\napiVersion: test.gatekeeper.sh/v1alpha1\ntests:\n- name: t\n  cases:\n  - name: a\n"
        "    inventory: 5\n"
    )
    assert main(["policy", "test", "-C", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "suite.yaml:7, field `tests[0].cases[0].inventory`: must be a list of file names" in err


# ------------------------------------------------------------------ OPA parses regorus reads differently


def test_opa_compat_keeps_lines_and_spells_out_opa_parses() -> None:
    from fluxfleet.check.gkrego import opa_compat

    source = (
        "package p\n"
        'q[x] {\n  x := "a{"\n} {\n  x := "b"\n}\n'
        'f(x) = {"a": y} {\n  y := x\n}\n'
        'r {\n  input.a\n  (1 + 2) > 2\n  not g(input.b, "c")  # (\n}\n'
        "s = 1 { true } else = 2 { true }\n"
    )
    out = opa_compat(source)
    assert out.count("\n") == source.count("\n")
    assert out.splitlines()[3] == "} q[x] {"
    assert out.splitlines()[7] == "  y := x"  # a head's object value is not a body
    assert out.splitlines()[10:13] == [
        "  input.a;",
        "  (1 + 2) > 2",
        '  _ = input.b; not g(input.b, "c")  # (',
    ]
    assert out.splitlines()[14] == "s = 1 { true } else = 2 { true }"


def test_policy_folders_bring_vaps_and_mutators_to_every_cluster(tmp_path: Path) -> None:
    from fluxfleet.check.rego import RegoPolicies, load_gatekeeper

    policy, binding, params, *_ = vap_objects()
    binding["spec"].pop("matchResources")
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "vap.yaml").write_text(dump(policy, binding, deployment("not-policy")))
    objs = load_gatekeeper(tmp_path, ("policies",))
    assert [o.key.kind for o in objs] == ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]
    found = findings(
        cluster(dump(params, deployment("web"))), "admission-policy", rego=RegoPolicies(None, objs)
    )
    assert [f.message.rsplit(": ", 1)[1] for f in found] == ["replicas 10 > 5"]


def test_secret_values_never_reach_the_inventory() -> None:
    leaky = """package k8sleak
violation[{"msg": msg}] {
  s := data.inventory.namespace[_]["v1"]["Secret"][_]
  msg := sprintf("%v", [s.data])
}
"""
    tmpl = {
        "apiVersion": "templates.gatekeeper.sh/v1",
        "kind": "ConstraintTemplate",
        "metadata": {"name": "k8sleak"},
        "spec": {
            "crd": {"spec": {"names": {"kind": "K8sLeak"}}},
            "targets": [{"target": "admission.k8s.gatekeeper.sh", "rego": leaky}],
        },
    }
    con = {"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sLeak", "metadata": {"name": "l"}}
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "apps"},
        "data": {"password": "aHVudGVyMg=="},
    }
    found = findings(cluster(dump(tmpl, con, secret, pod())), "gatekeeper-constraint")
    assert found and all("aHVudGVyMg" not in f.message for f in found)
    assert '{"password": "<redacted>"}' in found[0].message


_RENDERED_POLICY = """apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8sdisallowlatest
spec:
  crd:
    spec:
      names:
        kind: K8sDisallowLatest
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package k8sdisallowlatest
      violation[{"msg": msg}] {
        c := input.review.object.spec.containers[_]
        endswith(c.image, ":latest")
        msg := sprintf("container %v uses :latest", [c.name])
      }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sDisallowLatest
metadata:
  name: no-latest
spec:
  match:
    kinds: [{apiGroups: [""], kinds: [Pod]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:latest"}]
"""


def test_check_cli_runs_a_rendered_v0_policy_and_fails_ci_on_what_it_cannot_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "cluster").mkdir()
    (tmp_path / "cluster" / "policy.yaml").write_text(_RENDERED_POLICY)
    args = ["check", "-C", str(tmp_path), "--path", "cluster", "-o", "json"]
    args += ["-r", "gatekeeper-constraint", "-r", "gatekeeper-not-evaluated"]
    assert main(args) == 1
    [finding] = json.loads(capsys.readouterr().out)["findings"]
    assert finding["rule"] == "gatekeeper-constraint" and finding["file"] == "cluster/policy.yaml"
    assert (
        finding["message"]
        == "K8sDisallowLatest/no-latest: [Pod from Deployment web] container web uses :latest"
    )
    (tmp_path / "cluster" / "policy.yaml").write_text(
        _RENDERED_POLICY.replace('"nginx:latest"', '"nginx:1.27"').replace(
            "endswith(c.image", "endswith(c.image,,"
        )
    )
    assert main(args) == 1
    [finding] = json.loads(capsys.readouterr().out)["findings"]
    assert finding["rule"] == "gatekeeper-not-evaluated" and finding["severity"] == "high"
    assert "Rego does not compile" in finding["message"] and "k8sdisallowlatest/rego:4" in finding["message"]


def test_suite_message_regexes_are_re2_and_cannot_hang() -> None:
    from fluxfleet.check.gksuite import check_assertions

    # Catastrophic for a backtracking engine; linear here.
    assert "got none" in check_assertions([{"violations": "yes", "message": "(a+)+$"}], ["a" * 64 + "b"])
    assert check_assertions([{"violations": 1, "message": "uses"}], ["container uses x", "other"]) == ""
    assert check_assertions([{"violations": "no", "message": "other"}], ["container uses x"]) == ""
    assert "not a valid regex" in check_assertions([{"message": "("}], ["x"])
    assert check_assertions([], ["x"]) == "the case has no assertions"
    assert "must be yes, no or a number" in check_assertions([{"violations": "maybe"}], [])


def test_cel_messages_failure_policy_and_kubernetes_functions() -> None:
    from fluxfleet.check import celeval

    def run(spec: dict[str, Any], obj: dict[str, Any]) -> celeval.CelOutcome:
        return celeval.run(celeval.parse_policy(spec), {"object": obj}, {})

    spec: dict[str, Any] = {
        "validations": [
            {"expression": "object.n < 3", "messageExpression": "'n is ' + string(object.n)", "message": "m"},
            {"expression": "object.n < 3", "messageExpression": "'two\\nlines'", "message": "fallback"},
            {"expression": "object.n < 3"},
            {"expression": "object.xs.sum() == 6 && object.xs.isSorted() && object.xs.max() == 3"},
            {"expression": "object.missing.field == 1"},
            {"expression": "object.n"},
        ]
    }
    out = run(spec, {"n": 5, "xs": [1, 2, 3]})
    assert out.messages[:3] == ["n is 5", "fallback", "failed expression: object.n < 3"]
    assert "object.missing.field == 1" in out.messages[3] and "no such key" in out.messages[3]
    assert out.messages[4] == "expression 'object.n' returned 5, not a bool"
    assert run({**spec, "failurePolicy": "Ignore"}, {"n": 5, "xs": [1, 2, 3]}).messages == [
        "n is 5",
        "fallback",
        "failed expression: object.n < 3",
    ]
    skip = {"matchConditions": [{"name": "big", "expression": "object.n > 10"}], **spec}
    assert run(skip, {"n": 5, "xs": []}).applicable is False


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path] if path else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*path, i))
    return out


def test_hostile_policy_objects_never_crash_check(library: Path) -> None:
    """Every field of every policy kind replaced by a wrong type: findings or not, never a crash."""
    import copy

    policies = [
        _load(library / "pod-security-policy/host-network-ports/template.yaml"),
        {
            "apiVersion": "constraints.gatekeeper.sh/v1beta1",
            "kind": "K8sPSPHostNetworkingPorts",
            "metadata": {"name": "ports"},
            "spec": {
                "enforcementAction": "scoped",
                "scopedEnforcementActions": [{"action": "warn", "enforcementPoints": [{"name": "*"}]}],
                "match": {
                    "kinds": [{"apiGroups": [""], "kinds": ["Pod"]}],
                    "excludedNamespaces": ["kube-*"],
                    "labelSelector": {"matchExpressions": [{"key": "a", "operator": "In", "values": ["b"]}]},
                    "namespaceSelector": {"matchLabels": {"team": "shop"}},
                },
                "parameters": {"hostNetwork": False, "min": 80, "max": 9000},
            },
        },
        {
            "apiVersion": "mutations.gatekeeper.sh/v1",
            "kind": "Assign",
            "metadata": {"name": "a"},
            "spec": {
                "applyTo": [{"groups": [""], "kinds": ["Pod"], "versions": ["v1"]}],
                "match": {"namespaces": ["apps"]},
                "location": "spec.containers[name: *].securityContext.privileged",
                "parameters": {
                    "assign": {"value": False},
                    "pathTests": [{"subPath": "spec.containers[name: *]", "condition": "MustExist"}],
                },
            },
        },
        {
            "apiVersion": "config.gatekeeper.sh/v1alpha1",
            "kind": "Config",
            "metadata": {"name": "config"},
            "spec": {"match": [{"excludedNamespaces": ["x"], "processes": ["*"]}]},
        },
        *vap_objects()[:3],
    ]
    base = [*policies, namespace("apps", {"team": "shop"}), pod(), deployment("web")]
    runs = 0
    for index, obj in enumerate(policies):
        for path in _paths(obj):
            if path[0] in ("apiVersion", "kind", "metadata"):  # identity: the render rejects those
                continue
            for wrong in (7, ["x"]):
                bodies = copy.deepcopy(base)
                node = bodies[index]
                for part in path[:-1]:
                    node = node[part]
                node[path[-1]] = wrong
                render = cluster(dump(*bodies))
                for rule in ("gatekeeper-constraint", "gatekeeper-not-evaluated", "admission-policy"):
                    findings(render, rule)  # raises on a crash
                runs += 1
    assert runs > 150
