"""Gatekeeper policies from a hostile pull request, through the real ``fluxfleet check``: a Rego
policy that never ends or allocates without bound is stopped and reported (``fluxfleet.bounded``),
and no builtin reaches the network or the environment. Canaries in the environment and outside."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from fluxfleet import bounded
from fluxfleet.cli.main import main

CANARY_ENV = "canary-gk-env-0d3e"
CANARY_FILE = "canary-gk-file-77c1"

POLICY = """apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8sevil
spec:
  crd:
    spec:
      names:
        kind: K8sEvil
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package k8sevil
      violation[{"msg": msg}] {
        c := input.review.object.spec.containers[_]
        BODY
      }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sEvil
metadata:
  name: evil
spec:
  match:
    kinds: [{apiGroups: [""], kinds: [Pod]}]
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: apps}
spec:
  containers: [{name: web, image: "nginx:1.27"}]
"""


def _check(tmp_path: Path, body: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    (tmp_path / "cluster").mkdir(exist_ok=True)
    (tmp_path / "cluster" / "policy.yaml").write_text(POLICY.replace("BODY", body))
    args = ["check", "-C", str(tmp_path), "--path", "cluster", "-o", "json"]
    args += ["-r", "gatekeeper-constraint", "-r", "gatekeeper-not-evaluated"]
    code = main(args)
    out, err = capsys.readouterr()
    return code, out + err


@pytest.fixture(autouse=True)
def canaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", CANARY_ENV)
    (tmp_path / "secret.txt").write_text(CANARY_FILE)


@pytest.mark.parametrize(
    "body",
    [
        # never ends in practice: 10^12 pairs
        "x := count([i | numbers.range(0, 1000000)[i]; numbers.range(0, 1000000)[_]])\n"
        '        msg := sprintf("%v", [x])',
        # allocates without bound
        'x := count(numbers.range(0, 2000000000))\n        msg := sprintf("%v", [x])',
    ],
    ids=["endless", "huge"],
)
def test_a_runaway_policy_is_stopped_and_reported(
    body: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bounded, "TIMEOUT", 5.0)
    monkeypatch.setattr(bounded, "MEMORY_BUDGET", 512 * 1024**2)
    started = time.monotonic()
    code, text = _check(tmp_path, body, capsys)
    assert time.monotonic() - started < 60
    assert code == 1, text
    [finding] = json.loads(text)["findings"]
    assert finding["rule"] == "gatekeeper-not-evaluated", finding
    assert "stopped" in finding["message"], finding
    assert CANARY_ENV not in text


def test_no_builtin_reaches_the_network_the_environment_or_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    body = (
        f'r := http.send({{"method": "get", "url": "http://127.0.0.1:{port}/"}})\n'
        "        e := opa.runtime()\n"
        '        msg := sprintf("%v %v", [r, e])'
    )
    try:
        code, text = _check(tmp_path, body, capsys)
        with pytest.raises(TimeoutError):
            server.accept()  # nobody came
    finally:
        server.close()
    assert CANARY_ENV not in text and "GITHUB_TOKEN" not in text
    env_body = 'x := opa.runtime().env.GITHUB_TOKEN\n        msg := sprintf("%v", [x])'
    code, text = _check(tmp_path, env_body, capsys)
    assert CANARY_ENV not in text
    assert code in (0, 1)


def test_bounded_call_returns_results_and_errors_of_the_work() -> None:
    assert bounded.call(lambda: {"a": [1, 2]}) == {"a": [1, 2]}
    with pytest.raises(ValueError, match="bad"):
        bounded.call(lambda: (_ for _ in ()).throw(ValueError("bad")))
    with pytest.raises(bounded.LimitExceeded, match="within 1s"):
        bounded.call(lambda: time.sleep(30), timeout=1)


VAP = """apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: evil}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods]}
  validations:
  - expression: "L.all(a, L.all(b, L.all(c, L.all(d, a + b + c + d >= 0))))"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: evil}
spec:
  policyName: evil
  validationActions: [Deny]
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: apps}
spec:
  containers: [{name: web, image: "nginx:1.27"}]
"""


def test_runaway_cel_in_an_admission_policy_is_stopped_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bounded, "TIMEOUT", 5.0)
    numbers = "[" + ",".join(str(i) for i in range(300)) + "]"  # 300^4 evaluations: hours
    (tmp_path / "cluster").mkdir()
    (tmp_path / "cluster" / "policy.yaml").write_text(VAP.replace("L.", f"{numbers}."))
    args = ["check", "-C", str(tmp_path), "--path", "cluster", "-o", "json", "-r", "gatekeeper-not-evaluated"]
    started = time.monotonic()
    code = main(args)
    out, err = capsys.readouterr()
    assert time.monotonic() - started < 60
    assert code == 1, out + err
    [finding] = json.loads(out)["findings"]
    assert "stopped" in finding["message"] and "within 5s" in finding["message"], finding
    assert CANARY_ENV not in out + err


def test_policy_test_stops_a_runaway_template_and_fails_its_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bounded, "TIMEOUT", 5.0)
    template, constraint, pod = POLICY.replace(
        "BODY",
        "x := count([i | numbers.range(0, 1000000)[i]; numbers.range(0, 1000000)[_]])\n"
        '        msg := sprintf("%v", [x])',
    ).split("---\n")
    (tmp_path / "template.yaml").write_text(template)
    (tmp_path / "constraint.yaml").write_text(constraint)
    (tmp_path / "pod.yaml").write_text(pod)
    suite = {
        "kind": "Suite",
        "apiVersion": "test.gatekeeper.sh/v1alpha1",
        "tests": [
            {
                "name": "evil",
                "template": "template.yaml",
                "constraint": "constraint.yaml",
                "cases": [{"name": "pod", "object": "pod.yaml", "assertions": [{"violations": "no"}]}],
            }
        ],
    }
    (tmp_path / "suite.yaml").write_text(json.dumps(suite))
    started = time.monotonic()
    code = main(["policy", "test", "-C", str(tmp_path), "-o", "json"])
    out, err = capsys.readouterr()
    assert time.monotonic() - started < 60
    assert code == 1, out + err
    [case] = json.loads(out)["suites"][0]["cases"]
    assert (
        case["status"] == "fail" and "evaluation stopped" in case["detail"] and "within 5s" in case["detail"]
    )
    assert CANARY_ENV not in out + err
