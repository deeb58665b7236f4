"""Gatekeeper's constraint framework offline: templates + constraints in, results per review out.

Shared by ``fluxfleet check`` (objects of a cluster's render) and ``fluxfleet policy test``
(gator verify suites). Semantics follow open-policy-agent/frameworks (client.go, drivers/rego)
and gatekeeper (pkg/target, pkg/drivers/k8scel): one engine per template, CEL first when the
template ships ``K8sNativeValidation`` (gator's and Gatekeeper's default), Rego otherwise;
``input = {review, parameters}``; ``data.inventory`` in Gatekeeper's sync layout.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import jsonschema_rs

from fluxfleet.check import celeval, gkmatch
from fluxfleet.check.gkmatch import seq
from fluxfleet.check.gkrego import RegoEvalError, RegoSource, RegoTemplate
from fluxfleet.check.schemas import openapi_to_jsonschema, validate

TEMPLATE_GROUP = "templates.gatekeeper.sh"
CONSTRAINT_GROUP = "constraints.gatekeeper.sh"
TARGET = "admission.k8s.gatekeeper.sh"
Engine = Literal["auto", "rego", "cel"]
_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][\w.]*)", re.MULTILINE)


class TemplateError(Exception):
    """A ConstraintTemplate that cannot be loaded (Gatekeeper would reject it too)."""


class ConstraintError(Exception):
    """A Constraint that cannot be added (unknown kind, parameters failing the schema)."""


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass
class Template:
    name: str
    kind: str
    rego: RegoSource | None
    package: str | None
    cel: celeval.CelPolicy | None
    params_schema: dict[str, Any] | None
    _compiled: RegoTemplate | None = None
    _validator: Any = None

    def engine_for(self, preference: Engine) -> str:
        """``cel`` or ``rego``: the engine Gatekeeper would run this template with."""
        if preference == "rego" and self.rego is not None:
            return "rego"
        if preference == "cel" and self.cel is not None:
            return "cel"
        return "cel" if self.cel is not None else "rego"

    def compiled(self) -> RegoTemplate:
        if self._compiled is None:
            if self.rego is None or self.package is None:
                raise TemplateError(f"ConstraintTemplate {self.name} has no Rego for {TARGET}")
            try:
                self._compiled = RegoTemplate(self.rego, self.package)
            except RegoEvalError as exc:
                raise TemplateError(f"ConstraintTemplate {self.name}: Rego does not compile: {exc}") from None
        return self._compiled

    def validator(self) -> Any:
        """The parameters' validator (compiled by :func:`parse_template`), or None."""
        return self._validator


def template_kind(body: dict[str, Any]) -> str:
    spec = _mapping(_mapping(_mapping(body.get("spec")).get("crd")).get("spec"))
    return str(_mapping(spec.get("names")).get("kind") or "")


def parse_template(body: dict[str, Any]) -> Template:
    """A ConstraintTemplate (``templates.gatekeeper.sh/v1``, v1beta1, v1alpha1) or TemplateError."""
    meta = _mapping(body.get("metadata"))
    name = str(meta.get("name") or "")
    spec = _mapping(body.get("spec"))
    crd = _mapping(_mapping(spec.get("crd")).get("spec"))
    kind = template_kind(body)
    if not kind:
        raise TemplateError(f"ConstraintTemplate {name}: spec.crd.spec.names.kind is missing")
    if name.lower() != kind.lower():
        raise TemplateError(
            f"ConstraintTemplate {name}: metadata.name must equal the kind {kind} in lowercase"
        )
    targets = [t for t in seq(spec.get("targets")) if isinstance(t, dict)]
    if len(targets) != 1 or targets[0].get("target") != TARGET:
        raise TemplateError(f"ConstraintTemplate {name}: needs exactly one target, {TARGET}")
    target = targets[0]
    rego: RegoSource | None = None
    cel: celeval.CelPolicy | None = None
    for code in seq(target.get("code")):
        code = _mapping(code)
        source = _mapping(code.get("source"))
        if code.get("engine") == "Rego" and rego is None and source.get("rego"):
            version = "v1" if str(source.get("version") or "") == "v1" else "v0"
            libs = tuple(str(x) for x in seq(source.get("libs")))
            rego = RegoSource(f"ConstraintTemplate/{name}", str(source["rego"]), libs, version)
        elif code.get("engine") == "K8sNativeValidation" and cel is None:
            cel = celeval.parse_policy(source, match_key="matchCondition")
    if target.get("rego"):
        # A legacy `rego` replaces the code entry's source and is always v0 (conversion.go).
        libs = tuple(str(x) for x in seq(target.get("libs")))
        rego = RegoSource(f"ConstraintTemplate/{name}", str(target["rego"]), libs, "v0")
    if rego is None and cel is None:
        raise TemplateError(f"ConstraintTemplate {name}: no Rego or K8sNativeValidation code for {TARGET}")
    package = None
    if rego is not None:
        m = _PACKAGE.search(rego.rego)
        if m is None:
            raise TemplateError(f"ConstraintTemplate {name}: the Rego source has no package")
        package = m.group(1)
    schema = _mapping(crd.get("validation")).get("openAPIV3Schema")
    template = Template(name, kind, rego, package, cel, schema if isinstance(schema, dict) else None)
    if template.params_schema:
        try:
            template._validator = jsonschema_rs.validator_for(openapi_to_jsonschema(template.params_schema))
        except (ValueError, TypeError, AttributeError, jsonschema_rs.ValidationError) as exc:
            # The API server would refuse the template's CRD, so no constraint of it could exist.
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise TemplateError(
                f"ConstraintTemplate {name}: openAPIV3Schema is not a valid schema: {why}"
            ) from None
    return template


def _apply_defaults(schema: Any, value: Any) -> Any:
    """Schema ``default``s filled in, as the API server does for a Constraint's parameters."""
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict):
        out = dict(value)
        for key, sub in _mapping(schema.get("properties")).items():
            if key not in out and isinstance(sub, dict) and "default" in sub:
                out[key] = sub["default"]
            if key in out:
                out[key] = _apply_defaults(sub, out[key])
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_apply_defaults(schema["items"], v) for v in value]
    return value


@dataclass
class Constraint:
    body: dict[str, Any]
    template: Template
    kind: str
    name: str
    parameters: dict[str, Any]
    match: dict[str, Any]
    action: str  # deny | warn | dryrun | scoped
    scoped: dict[str, list[str]] = field(default_factory=dict)  # enforcement point -> actions

    def actions_at(self, point: str) -> list[str]:
        """Actions of this constraint at an enforcement point; [] means it is skipped there."""
        if self.action != "scoped":
            return [self.action]
        return sorted(set(self.scoped.get(point, []) + self.scoped.get("*", [])))


def parse_constraint(body: dict[str, Any], templates: dict[str, Template]) -> Constraint:
    kind = str(body.get("kind") or "")
    name = str(_mapping(body.get("metadata")).get("name") or "")
    template = templates.get(kind)
    if template is None:
        raise ConstraintError(f"Constraint {kind}/{name}: no ConstraintTemplate defines kind {kind}")
    spec = _mapping(body.get("spec"))
    raw = spec.get("parameters")
    params = raw if isinstance(raw, dict) else {}
    if raw is not None and not isinstance(raw, dict):
        raise ConstraintError(f"Constraint {kind}/{name}: spec.parameters must be an object")
    validator = template.validator()
    if validator is not None:
        errors = validate(validator, params)
        if errors:
            raise ConstraintError(f"Constraint {kind}/{name}: spec.parameters invalid: {errors[0]}")
    if template.params_schema:
        params = _apply_defaults(template.params_schema, params)
    action = str(spec.get("enforcementAction") or "deny").lower()
    scoped: dict[str, list[str]] = {}
    if action == "scoped":
        for entry in seq(spec.get("scopedEnforcementActions")):
            entry = _mapping(entry)
            for point in seq(entry.get("enforcementPoints")):
                point_name = str(_mapping(point).get("name") or "")
                scoped.setdefault(point_name, []).append(str(entry.get("action") or "deny").lower())
    return Constraint(body, template, kind, name, params, _mapping(spec.get("match")), action, scoped)


def inventory(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """``data.inventory`` as Gatekeeper's sync builds it: cluster[gv][kind][name] and
    namespace[ns][gv][kind][name]."""
    namespaced: dict[str, Any] = {}
    cluster: dict[str, Any] = {}
    for o in objects:
        meta = _mapping(o.get("metadata"))
        gv, kind, name = str(o.get("apiVersion") or ""), str(o.get("kind") or ""), str(meta.get("name") or "")
        ns = str(meta.get("namespace") or "")
        if ns:
            namespaced.setdefault(ns, {}).setdefault(gv, {}).setdefault(kind, {})[name] = o
        else:
            cluster.setdefault(gv, {}).setdefault(kind, {})[name] = o
    return {"inventory": {"cluster": cluster, "namespace": namespaced}}


def review_of(
    obj: dict[str, Any] | None,
    old: dict[str, Any] | None = None,
    *,
    operation: str = "",
    user: dict[str, Any] | None = None,
    namespace_object: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``input.review`` for a plain object, as gator builds it (pkg/gator/verify/runner.go)."""
    subject = obj if isinstance(obj, dict) else old if isinstance(old, dict) else {}
    api = str(subject.get("apiVersion") or "")
    group, _, version = api.rpartition("/")
    meta = _mapping(subject.get("metadata"))
    review: dict[str, Any] = {
        "uid": "",
        "kind": {"group": group, "version": version, "kind": str(subject.get("kind") or "")},
        "resource": {"group": "", "version": "", "resource": ""},
        "operation": operation,
        "userInfo": user or {},
        "object": obj,
        "oldObject": old,
        "options": None,
        "namespaceObject": namespace_object,
    }
    if meta.get("name"):
        review["name"] = meta["name"]
    if meta.get("namespace"):
        review["namespace"] = meta["namespace"]
    return review


@dataclass(frozen=True)
class Result:
    constraint: Constraint
    message: str
    action: str  # deny | warn | dryrun; "error" when the constraint could not be evaluated
    engine: str  # rego | cel
    unmatched: bool = False  # matching failed (Gatekeeper autorejects); the message says why


class Client:
    """Templates and constraints compiled once; ``review`` answers one admission request."""

    def __init__(
        self,
        templates: list[Template],
        constraints: list[Constraint],
        *,
        engine: Engine = "auto",
        data: list[dict[str, Any]] | None = None,
    ) -> None:
        self.templates = {t.kind: t for t in templates}
        self.constraints = constraints
        self.engine = engine
        self._data_json = json.dumps(inventory(data or []), default=str)
        self._rego: dict[str, RegoTemplate] = {}

    def _rego_for(self, template: Template) -> RegoTemplate:
        if template.kind not in self._rego:
            self._rego[template.kind] = template.compiled().with_data(self._data_json)
        return self._rego[template.kind]

    def review(self, review: dict[str, Any], lookup: gkmatch.NamespaceLookup, *, point: str) -> list[Result]:
        out: list[Result] = []
        obj, old = review.get("object"), review.get("oldObject")
        namespace = str(review.get("namespace") or "")
        for c in self.constraints:
            actions = c.actions_at(point)
            if not actions:
                continue
            engine = c.template.engine_for(self.engine)
            try:
                if not gkmatch.matches(c.match, obj, old, namespace, lookup):
                    continue
            except gkmatch.MatchError as exc:
                out.extend(Result(c, f"unable to match constraint: {exc}", a, engine, True) for a in actions)
                continue
            for message in self._violations(c, engine, review):
                out.extend(Result(c, message, a, engine) for a in actions)
        return out

    def _violations(self, c: Constraint, engine: str, review: dict[str, Any]) -> list[str]:
        """Messages of one constraint for one review; an evaluation error is one message, as in
        Gatekeeper (the request is rejected with the error)."""
        if engine == "rego":
            try:
                found = self._rego_for(c.template).violations({"review": review, "parameters": c.parameters})
            except (RegoEvalError, TemplateError) as exc:
                return [f"evaluation error: {exc}"]
            return [str(v.get("msg")) for v in found]
        assert c.template.cel is not None
        obj, old = review.get("object"), review.get("oldObject")
        if review.get("operation") == "DELETE":
            obj = None  # Gatekeeper clears the object of a DELETE for CEL; variables.anyObject has it
        request = {
            k: review.get(k) for k in ("kind", "resource", "name", "namespace", "operation", "userInfo")
        }
        request["options"] = review.get("options")
        base = {
            "object": obj,
            "oldObject": old,
            "request": request,
            "params": c.body,
            "namespaceObject": review.get("namespaceObject"),
        }
        any_object = old if review.get("operation") == "DELETE" and obj is None else obj
        has_params = "parameters" in _mapping(c.body.get("spec"))
        variables = {"params": c.parameters if has_params else None, "anyObject": any_object}
        return celeval.run(c.template.cel, base, variables).messages
