"""Gatekeeper's ``suite.yaml`` test format (what ``gator verify`` runs), evaluated offline.

Suites are ``test.gatekeeper.sh`` ``Suite`` documents; every file they name is resolved inside
the repository root. Each case gets a fresh client (template, constraint, inventory) and one
review at enforcement point ``gator.gatekeeper.sh``; assertions count results whose message
matches (pkg/gator/verify/runner.go, assertion.go).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from fluxfleet import bounded, yamlio
from fluxfleet.check import celeval, gkclient
from fluxfleet.check.gkmatch import mp
from fluxfleet.errors import FleetError
from fluxfleet.fsutil import safe_join

SUITE_GROUP = "test.gatekeeper.sh"
POINT = "gator.gatekeeper.sh"


@dataclass
class CaseResult:
    test: str
    case: str
    engine: str  # rego | cel
    status: str  # pass | fail | skip
    detail: str = ""


@dataclass
class SuiteResult:
    path: str
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(1 for c in self.cases if c.status == "fail")


class _CaseError(Exception):
    pass


def find_suites(root: Path, paths: list[str]) -> list[str]:
    """Repository-relative suite files under ``paths`` (files or folders, recursively), sorted."""
    found: set[str] = set()
    for rel in paths or ["."]:
        target = safe_join(root, rel, field="PATH")
        if target.is_file():
            found.add(target.relative_to(root.resolve()).as_posix())
            continue
        if not target.is_dir():
            raise FleetError(
                f"{rel}: no such file or folder", hint="name a suite.yaml or a folder holding some"
            )
        inside = root.resolve()
        for p in target.rglob("*"):
            # Nothing outside the repository is read, even through a symlinked folder.
            if inside not in p.resolve().parents:
                continue
            if p.suffix in (".yaml", ".yml") and p.is_file() and not p.is_symlink():
                text = yamlio.read_text(p, display=p.relative_to(root.resolve()).as_posix())
                if SUITE_GROUP in text and "Suite" in text:
                    found.add(p.relative_to(root.resolve()).as_posix())
    return sorted(found)


def _docs(root: Path, base: PurePosixPath, rel: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(rel, str) or not rel:
        raise _CaseError(f"{what} is not set")
    if rel.startswith("/"):
        raise _CaseError(f"{what} {rel!r} must be relative to the suite")
    joined = (base / rel).as_posix()
    parts: list[str] = []
    for part in joined.split("/"):
        if part == "..":
            if not parts:
                raise _CaseError(f"{what} {rel!r} leaves the repository root")
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    try:
        path = safe_join(root, "/".join(parts), field=what)
        if not path.is_file():
            raise _CaseError(f"{what} {rel!r}: no such file")
        return [d for d in yamlio.load_file(path, display="/".join(parts)) if isinstance(d, dict)]
    except FleetError as exc:
        raise _CaseError(f"{what} {rel!r}: {exc}") from None


def _truthy_assertion(value: Any) -> str:
    # gator parses YAML 1.2 where yes/no are strings; a YAML 1.1 reader may hand back booleans.
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value if value is not None else "yes")


def check_assertions(assertions: Any, messages: list[str]) -> str:
    """ "" when every assertion holds, else why not."""
    if not isinstance(assertions, list) or not assertions:
        return "the case has no assertions"
    for i, a in enumerate(assertions):
        a = a if isinstance(a, dict) else {}
        pattern = a.get("message")
        try:
            # Go RE2 semantics as in gator, and no catastrophic backtracking on hostile patterns.
            count = sum(1 for m in messages if pattern is None or celeval.re2_search(str(pattern), m))
            if pattern is not None:
                celeval.re2_search(str(pattern), "")
        except ValueError as exc:
            return f"assertions[{i}].message is not a valid regex: {exc}"
        want = _truthy_assertion(a.get("violations"))
        about = f" matching {pattern!r}" if pattern is not None else ""
        if want == "yes" and count < 1:
            return f"assertions[{i}]: want violations{about}, got none"
        if want == "no" and count:
            return f"assertions[{i}]: want no violations{about}, got {count}: {messages[:3]}"
        if want not in ("yes", "no"):
            try:
                n = int(want)
            except ValueError:
                return f"assertions[{i}].violations must be yes, no or a number, not {want!r}"
            if n < 0:
                return f"assertions[{i}].violations must not be negative"
            if count != n:
                return f"assertions[{i}]: want {n} violations{about}, got {count}: {messages[:3]}"
    return ""


def case_review(doc: dict[str, Any]) -> dict[str, Any]:
    api = str(doc.get("apiVersion") or "")
    if doc.get("kind") == "AdmissionReview" and api.startswith("admission.k8s.io/"):
        req = doc.get("request")
        if not isinstance(req, dict) or not (req.get("object") or req.get("oldObject")):
            raise _CaseError("an AdmissionReview case needs request.object or request.oldObject")
        review = dict(req)
        review.setdefault("kind", {"group": "", "version": "", "kind": ""})
        review.setdefault("oldObject", None)
        review.setdefault("namespaceObject", None)
        if req.get("operation") == "DELETE" or not isinstance(req.get("object"), dict):
            review["object"] = req.get("oldObject")
        return review
    return gkclient.review_of(doc)


# path in a Suite -> the type it must have ("[]" a list of mappings, "[s]" a list of strings).
_SHAPE: tuple[tuple[tuple[str, ...], str], ...] = (
    (("tests",), "[]"),
    (("tests", "*", "cases"), "[]"),
    (("tests", "*", "cases", "*", "inventory"), "[s]"),
    (("tests", "*", "cases", "*", "assertions"), "[]"),
)


def _validate(suite: dict[str, Any], marks: yamlio.Marks, rel: str) -> None:
    """Malformed suites are user errors with file, line and field, never a crash mid-run."""

    def walk(node: Any, shape: tuple[str, ...], path: tuple[str | int, ...], want: str) -> None:
        if not shape:
            if node is None:
                return
            ok = isinstance(node, list) and all(
                isinstance(x, str) if want == "[s]" else isinstance(x, dict) for x in node
            )
            if not ok:
                what = "a list of file names" if want == "[s]" else "a list of mappings"
                line = marks.get(path, (None, None))[0]
                field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
                raise FleetError(f"must be {what}", file=rel, line=line, field=field)
            return
        if shape[0] == "*":
            for i, item in enumerate(node if isinstance(node, list) else []):
                walk(item, shape[1:], (*path, i), want)
        elif isinstance(node, dict):
            walk(node.get(shape[0]), shape[1:], (*path, shape[0]), want)

    for shape, want in _SHAPE:
        walk(suite, shape, (), want)


class Runner:
    def __init__(self, root: Path, engine: str = "auto", run: str | None = None) -> None:
        self.root = root
        self.engine = engine  # auto | rego | cel | all
        self.filters = self._filters(run)

    @staticmethod
    def _filters(run: str | None) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None, bool]:
        if not run:
            return None, None, False
        try:
            if "//" in run:
                t, c = run.split("//", 1)
                return re.compile(t), re.compile(c), True
            return re.compile(run), None, False
        except re.error as exc:
            raise FleetError(f"--run {run!r} is not a valid regex: {exc}", field="--run") from None

    def _selected(self, test: str, case: str) -> bool:
        t_rx, c_rx, both = self.filters
        if t_rx is None:
            return True
        if both:
            return bool(t_rx.search(test)) and (c_rx is None or bool(c_rx.search(case)))
        return bool(t_rx.search(test) or t_rx.search(case))

    def run_suite(self, rel: str) -> SuiteResult | None:
        path = safe_join(self.root, rel)
        text = yamlio.read_text(path, display=rel)
        suites = [
            (d, marks)
            for d, marks in yamlio.load_all_with_marks(text, rel)
            if isinstance(d, dict)
            and d.get("kind") == "Suite"
            and str(d.get("apiVersion") or "").startswith(f"{SUITE_GROUP}/")
        ]
        if not suites:
            return None
        result = SuiteResult(rel)
        base = PurePosixPath(rel).parent
        for suite, marks in suites:
            _validate(suite, marks, rel)
            for test in suite.get("tests") or []:
                self._run_test(result, base, test, skip=bool(suite.get("skip")))
        return result

    def _engines(self, template: gkclient.Template) -> list[gkclient.Engine]:
        if self.engine == "all":
            return ["rego", "cel"] if template.rego is not None and template.cel is not None else ["auto"]
        return [self.engine]  # type: ignore[list-item]

    def _run_test(self, result: SuiteResult, base: PurePosixPath, test: dict[str, Any], skip: bool) -> None:
        name = str(test.get("name") or "")
        cases = list(test.get("cases") or [])
        selected = [c for c in cases if self._selected(name, str(c.get("name") or ""))]
        if self.filters[0] is not None and not selected and not self._selected(name, ""):
            return
        if skip or test.get("skip"):
            result.cases.extend(CaseResult(name, str(c.get("name") or ""), "-", "skip") for c in selected)
            return
        try:
            tdocs = _docs(self.root, base, test.get("template"), "template")
            if len(tdocs) != 1:
                raise _CaseError(f"template {test.get('template')!r} must hold one document")
            template = gkclient.parse_template(tdocs[0])
            if template.rego is not None:
                template.compiled()
        except (_CaseError, gkclient.TemplateError) as exc:
            # Every case of the test fails, so that counts stay per case.
            result.cases.extend(
                CaseResult(name, str(c.get("name") or ""), "-", "fail", str(exc)) for c in selected or [{}]
            )
            return
        for engine in self._engines(template):
            label = template.engine_for(engine)
            try:
                cdocs = _docs(self.root, base, test.get("constraint"), "constraint")
                if len(cdocs) != 1:
                    raise _CaseError(f"constraint {test.get('constraint')!r} must hold one document")
                constraint = gkclient.parse_constraint(cdocs[0], {template.kind: template})
            except gkclient.ConstraintError as exc:
                ok = bool(test.get("invalid"))
                detail = "" if ok else str(exc)
                result.cases.append(
                    CaseResult(name, "(constraint is invalid)", label, "pass" if ok else "fail", detail)
                )
                continue
            except _CaseError as exc:
                result.cases.append(CaseResult(name, "", label, "fail", str(exc)))
                continue
            if test.get("invalid"):
                result.cases.append(
                    CaseResult(name, "(constraint is invalid)", label, "fail", "the constraint was accepted")
                )
                continue
            for case in selected:
                result.cases.append(self._run_case(base, name, case, template, constraint, engine, label))

    def _run_case(
        self,
        base: PurePosixPath,
        test: str,
        case: dict[str, Any],
        template: gkclient.Template,
        constraint: gkclient.Constraint,
        engine: gkclient.Engine,
        label: str,
    ) -> CaseResult:
        cname = str(case.get("name") or "")
        if case.get("skip"):
            return CaseResult(test, cname, label, "skip")
        try:
            objs = _docs(self.root, base, case.get("object"), "object")
            if len(objs) != 1:
                raise _CaseError(f"object {case.get('object')!r} must hold exactly one document")
            inventory: list[dict[str, Any]] = []
            for i, rel in enumerate(case.get("inventory") or []):
                inventory.extend(_docs(self.root, base, rel, f"inventory[{i}]"))
            review = case_review(objs[0])
        except _CaseError as exc:
            return CaseResult(test, cname, label, "fail", str(exc))
        namespaces = {
            str(mp(o.get("metadata")).get("name") or ""): o
            for o in inventory
            if o.get("kind") == "Namespace" and o.get("apiVersion") == "v1"
        }
        client = gkclient.Client([template], [constraint], engine=engine, data=inventory)
        try:  # the template may be anyone's: a runaway one is stopped (see fluxfleet.bounded)
            messages = bounded.call(
                lambda: [r.message for r in client.review(review, namespaces.get, point=POINT)]
            )
        except bounded.LimitExceeded as exc:
            return CaseResult(test, cname, label, "fail", f"evaluation stopped: {exc}")
        problem = check_assertions(case.get("assertions"), messages)
        return CaseResult(test, cname, label, "fail" if problem else "pass", problem)
