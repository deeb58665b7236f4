"""Gatekeeper engines: correctness on the gatekeeper-library suites, then throughput on a fleet.

1. Correctness: every suite of ../shared/fixtures/gatekeeper-library runs with each candidate
   engine (Rego: regorus, regopy; CEL: common-expression-language, cel-python) through the same
   runner as ``fluxfleet policy test``. The candidates are swapped in for the chosen ones here.
2. Throughput: a synthetic 1,000-cluster fleet render (each cluster: namespaces, deployments,
   pods, services, an ingress, with 20 library templates and constraints in the render) goes
   through ``check``'s Gatekeeper rule; reported as constraint evaluations (constraint x reviewed
   object) per second. Then the same fleet with only the templates regopy gets fully right,
   regorus versus regopy, both forced to Rego.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fluxfleet import yamlio
from fluxfleet.check import celeval, gkclient, gkrego, gksuite
from fluxfleet.check.context import CheckOptions
from fluxfleet.check.engine import run_checks
from fluxfleet.check.rego import RegoPolicies, _StdoutSink
from fluxfleet.objects import K8sObject, Provenance
from fluxfleet.render.model import ClusterRender, KsStatus, KustomizationRender

LIBRARY = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "gatekeeper-library"
CLUSTERS = 1000
COMPARE_CLUSTERS = 100  # regopy is ~10x slower: the engine comparison uses a 100-cluster slice
CONSTRAINTS = 20


class RegopyTemplate:
    """regopy (rego-cpp, Rego v1 only) behind the interface of gkrego.RegoTemplate."""

    _sink = _StdoutSink()

    def __init__(self, source: gkrego.RegoSource, package: str) -> None:
        self.source, self.package = source, package
        self.rule = f"data.{package}.violation"
        self._interp: Any = None
        self._bundle: Any = None

    def with_data(self, data_json: str | None) -> RegopyTemplate:
        import regopy

        clone = RegopyTemplate(self.source, self.package)
        with self._sink.capture():
            try:
                interp = regopy.Interpreter()
                interp.add_module("rego", self.source.rego)
                for i, lib in enumerate(self.source.libs):
                    interp.add_module(f"lib{i}", lib)
                if data_json:
                    interp.add_data_json(data_json)
                interp.set_input({})
                probe = interp.query(f"x = {self.rule}")
                # A prebuilt bundle evaluates ~10x faster than a query (see check/rego.py).
                clone._bundle = interp.build(f"x = {self.rule}", []) if probe.ok() else None
                clone._interp = interp
            except Exception as exc:
                raise gkrego.RegoEvalError(str(exc)) from None
        return clone

    def violations(self, input_doc: dict[str, Any]) -> list[dict[str, Any]]:
        with self._sink.capture() as printed:
            try:
                self._interp.set_input(json.loads(json.dumps(input_doc, default=str)))
                if self._bundle is None:
                    out = self._interp.query(f"x = {self.rule}")
                else:
                    out = self._interp.query_bundle(self._bundle)
            except Exception as exc:
                raise gkrego.RegoEvalError(str(exc)) from None
        if (printed and printed[0]) or not out.ok():
            raise gkrego.RegoEvalError((printed[0] if printed else "") or str(out))
        value = out.results[0].bindings.get("x") if out.results else None
        # rego-cpp reads a v0 partial set `violation[{"msg": m}]` as an object keyed by the element.
        try:
            items = [json.loads(k) for k in value] if isinstance(value, dict) else value or []
        except ValueError as exc:
            raise gkrego.RegoEvalError(f"unreadable result: {exc}") from None
        return [v for v in items if isinstance(v, dict) and "msg" in v]


@contextmanager
def rego_engine(factory: Any) -> Iterator[None]:
    saved = gkclient.RegoTemplate
    gkclient.RegoTemplate = factory
    try:
        yield
    finally:
        gkclient.RegoTemplate = saved


@contextmanager
def cel_python() -> Iterator[None]:
    """cel-python in place of common-expression-language, with the same added functions."""
    import celpy

    env = celpy.Environment()
    functions = {
        name: (lambda f: lambda *a: celpy.json_to_cel(f(*a)))(fn) for name, fn in celeval.FUNCTIONS.items()
    }

    def context(activation: dict[str, Any]) -> Any:
        return {k: celpy.json_to_cel(v) for k, v in activation.items()}

    def evaluate(expression: str, ctx: Any) -> Any:
        try:
            program = env.program(env.compile(expression), functions=functions)
            value = program.evaluate(ctx)
        except Exception as exc:
            raise celeval.CelError(str(exc)) from None
        if isinstance(value, Exception):
            raise celeval.CelError(str(value))
        return _py(value)

    def _py(value: Any) -> Any:
        types = celpy.celtypes
        if isinstance(value, types.BoolType):
            return bool(value)
        if isinstance(value, dict):
            return {_py(k): _py(v) for k, v in value.items()}
        if isinstance(value, list):
            return [_py(v) for v in value]
        if isinstance(value, (types.IntType, types.UintType)):
            return int(value)
        if isinstance(value, types.DoubleType):
            return float(value)
        if isinstance(value, str):
            return str(value)
        return None if isinstance(value, types.NullType) else value

    def run(policy: celeval.CelPolicy, base: dict[str, Any], variables: dict[str, Any]) -> celeval.CelOutcome:
        values = dict(variables)
        out = celeval.CelOutcome()
        for name, expression in policy.variables:
            try:
                values[name] = evaluate(expression, context({**base, "variables": values}))
            except celeval.CelError:
                continue
        ctx = context({**base, "variables": values})
        for v in policy.validations:
            try:
                value = evaluate(v.expression, ctx)
            except celeval.CelError as exc:
                out.messages.append(str(exc))
                continue
            if value is not True:
                message = ""
                if v.message_expression:
                    try:
                        message = str(evaluate(v.message_expression, ctx) or "").strip()
                    except celeval.CelError:
                        message = ""
                out.messages.append(message or v.message or f"failed expression: {v.expression}")
        return out

    saved = celeval.run
    celeval.run = run
    try:
        yield
    finally:
        celeval.run = saved


def correctness(engine: str) -> tuple[int, int, dict[str, tuple[int, int]]]:
    """(passed, cases, per suite folder (passed, cases)) with engine preference ``engine``."""
    runner = gksuite.Runner(LIBRARY, engine)
    per: dict[str, tuple[int, int]] = {}
    for rel in gksuite.find_suites(LIBRARY, ["library"]):
        result = runner.run_suite(rel)
        assert result is not None
        if engine == "cel":
            result.cases = [c for c in result.cases if c.engine == "cel"]
        ok = sum(1 for c in result.cases if c.status == "pass")
        per[rel.removeprefix("library/").removesuffix("/suite.yaml")] = (ok, len(result.cases))
    return sum(p for p, _ in per.values()), sum(n for _, n in per.values()), per


def _library_policies(folders: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for folder in folders:
        suite_path = LIBRARY / "library" / folder / "suite.yaml"
        test = yamlio.load_file(suite_path)[0]["tests"][0]
        out.append(yamlio.load_file(suite_path.parent / test["template"])[0])
        out.append(yamlio.load_file(suite_path.parent / test["constraint"])[0])
    return out


def _cluster_objects(c: int) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    for ns in ("shop", "payments"):
        objs.append(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"team": ns}}}
        )
        for i in range(2):
            name = f"web-{i}"
            container = {
                "name": name,
                "image": f"ghcr.io/acme/{name}:1.{c % 9}" if i else "nginx:latest",
                "ports": [{"containerPort": 8080}],
                "resources": {"limits": {"cpu": "200m", "memory": "128Mi"}},
                "securityContext": {"privileged": bool(i), "allowPrivilegeEscalation": False},
            }
            pod_spec = {"containers": [container], "hostNetwork": False}
            objs.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": name, "namespace": ns, "labels": {"app": name, "owner": "team"}},
                    "spec": {
                        "replicas": 2,
                        "selector": {"matchLabels": {"app": name}},
                        "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec},
                    },
                }
            )
        objs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": ns},
                "spec": {"type": "ClusterIP", "selector": {"app": "web-0"}, "ports": [{"port": 80}]},
            }
        )
        objs.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "web", "namespace": ns},
                "spec": {"rules": [{"host": f"{ns}.c{c}.example.com"}]},
            }
        )
    return objs


def _fleet(policies: list[dict[str, Any]], clusters: int) -> list[ClusterRender]:
    renders = []
    for c in range(clusters):
        objects = tuple(K8sObject.of(b, Provenance(file="x.yaml")) for b in [*policies, *_cluster_objects(c)])
        ks = KustomizationRender(
            name="apps",
            namespace="flux-system",
            spec={},
            status=KsStatus.rendered,
            path="apps",
            objects=objects,
        )
        renders.append(
            ClusterRender(cluster=f"c{c:04d}", path=f"clusters/c{c}", labels={}, kustomizations=(ks,))
        )
    return renders


def throughput(policies: list[dict[str, Any]], engine: str, clusters: int) -> tuple[float, int, float]:
    """(constraint evaluations per second, evaluations, seconds) of the Gatekeeper rule."""
    renders = _fleet(policies, clusters)
    options = CheckOptions(rego=RegoPolicies(gatekeeper_engine=engine))
    constraints = sum(1 for p in policies if str(p.get("apiVersion")).startswith("constraints."))
    reviewed = sum(len(_cluster_objects(0)) + 4 for _ in renders)  # objects + a Pod per Deployment
    start = time.perf_counter()
    run_checks(renders, options, only=["gatekeeper-constraint", "gatekeeper-not-evaluated"])
    seconds = time.perf_counter() - start
    evaluations = constraints * reviewed
    return evaluations / seconds, evaluations, seconds


def main() -> list[str]:
    lines: list[str] = []
    results: dict[str, dict[str, tuple[int, int]]] = {}
    ok, total, results["regorus"] = correctness("rego")
    lines.append(f"correctness Rego  regorus (gordon-to-regorus): {ok}/{total}")
    with rego_engine(RegopyTemplate):
        ok, total, results["regopy"] = correctness("rego")
    lines.append(f"correctness Rego  regopy (v1 only):             {ok}/{total}")
    ok, total, _ = correctness("cel")
    lines.append(f"correctness CEL   common-expression-language:   {ok}/{total}")
    with cel_python():
        ok, total, _ = correctness("cel")
    lines.append(f"correctness CEL   cel-python:                   {ok}/{total}")

    folders = sorted(results["regorus"])
    both = [
        f for f in folders if results["regopy"][f][0] == results["regopy"][f][1] == results["regorus"][f][1]
    ]
    chosen = [f for f in folders if results["regorus"][f][0] == results["regorus"][f][1]][:CONSTRAINTS]
    rate, n, secs = throughput(_library_policies(chosen), "auto", CLUSTERS)
    lines.append(
        f"throughput {CLUSTERS} clusters x {len(chosen)} constraints ({', '.join(chosen)}; CEL where shipped): "
        f"{rate:,.0f} constraint evaluations/s ({n:,} in {secs:.1f}s)"
    )
    subset = both[:CONSTRAINTS]
    lines.append(f"templates regopy gets fully right: {len(both)} ({', '.join(both)})")
    for name, factory in (("regorus", gkrego.RegoTemplate), ("regopy ", RegopyTemplate)):
        with rego_engine(factory):
            rate, n, secs = throughput(_library_policies(subset), "rego", COMPARE_CLUSTERS)
        lines.append(
            f"throughput {COMPARE_CLUSTERS} clusters x {len(subset)} of those, Rego, {name}: "
            f"{rate:,.0f}/s ({n:,} in {secs:.1f}s)"
        )
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
