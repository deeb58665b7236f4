"""Kubernetes label selector semantics (metav1.LabelSelector), exactly.

- ``matchLabels: {k: v}`` is the requirement ``k In [v]``; all requirements are ANDed.
- ``In``: the label is present and its value is listed. ``NotIn``: absent, or present with a value
  not listed. ``Exists``/``DoesNotExist``: presence only.
- ``In``/``NotIn`` need at least one value; ``Exists``/``DoesNotExist`` take none.
- An empty selector (no requirements) selects everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fluxfleet.fleet.names import label_key_error, label_value_error


class Operator(StrEnum):
    In = "In"
    NotIn = "NotIn"
    Exists = "Exists"
    DoesNotExist = "DoesNotExist"


class Requirement(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        err = label_key_error(v)
        if err:
            raise ValueError(err)
        return v

    @field_validator("values")
    @classmethod
    def _values(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for item in v:
            err = label_value_error(item)
            if err:
                raise ValueError(err)
        return v

    @model_validator(mode="after")
    def _arity(self) -> Requirement:
        if self.operator in (Operator.In, Operator.NotIn) and not self.values:
            raise ValueError(f"operator {self.operator.value} needs at least one value")
        if self.operator in (Operator.Exists, Operator.DoesNotExist) and self.values:
            raise ValueError(f"operator {self.operator.value} takes no values")
        return self


class LabelSelector(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    match_labels: dict[str, str] = Field(default_factory=dict, alias="matchLabels")
    match_expressions: tuple[Requirement, ...] = Field(default=(), alias="matchExpressions")

    @field_validator("match_labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            err = label_key_error(key) or label_value_error(value)
            if err:
                raise ValueError(err)
        return v

    def requirements(self) -> list[Requirement]:
        reqs = [
            Requirement(key=k, operator=Operator.In, values=(v,))
            for k, v in sorted(self.match_labels.items())
        ]
        return reqs + list(self.match_expressions)

    def matches(self, labels: dict[str, str]) -> bool:
        return all(requirement_matches(r, labels) for r in self.requirements())

    def is_empty(self) -> bool:
        return not self.match_labels and not self.match_expressions

    def describe(self) -> str:
        """A kubectl-style selector string (``env in (dev,prod),!legacy``)."""
        if self.is_empty():
            return "<all clusters>"
        return ",".join(_describe_requirement(r) for r in self.requirements())


def requirement_matches(req: Requirement, labels: dict[str, str]) -> bool:
    present = req.key in labels
    if req.operator is Operator.In:
        return present and labels[req.key] in req.values
    if req.operator is Operator.NotIn:
        return not present or labels[req.key] not in req.values
    if req.operator is Operator.Exists:
        return present
    return not present


def _describe_requirement(req: Requirement) -> str:
    if req.operator is Operator.Exists:
        return req.key
    if req.operator is Operator.DoesNotExist:
        return f"!{req.key}"
    if req.operator is Operator.In and len(req.values) == 1:
        return f"{req.key}={req.values[0]}"
    op = "in" if req.operator is Operator.In else "notin"
    return f"{req.key} {op} ({','.join(req.values)})"


@dataclass(frozen=True)
class RequirementResult:
    requirement: str
    matched: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"requirement": self.requirement, "matched": self.matched, "reason": self.reason}


def explain(selector: LabelSelector, labels: dict[str, str]) -> list[RequirementResult]:
    """Evaluate each requirement separately and say why it did or did not match."""
    out: list[RequirementResult] = []
    for req in selector.requirements():
        ok = requirement_matches(req, labels)
        have = f"{req.key}={labels[req.key]!r}" if req.key in labels else f"no label {req.key!r}"
        if req.operator is Operator.In:
            why = f"{have}; {'in' if ok else 'not in'} [{', '.join(req.values)}]"
        elif req.operator is Operator.NotIn:
            why = (
                f"{have}; {'not in' if ok else 'in'} [{', '.join(req.values)}]"
                if req.key in labels
                else f"{have}; NotIn matches an absent label"
            )
        elif req.operator is Operator.Exists:
            why = f"label {req.key!r} {'exists' if ok else 'is missing'}"
        else:
            why = f"label {req.key!r} {'is absent' if ok else 'exists'}"
        out.append(RequirementResult(_describe_requirement(req), ok, why))
    return out
