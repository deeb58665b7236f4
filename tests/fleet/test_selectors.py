"""Label selector semantics, checked against the Kubernetes rules and with properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from fluxfleet.fleet.selectors import LabelSelector, Operator, Requirement, explain, requirement_matches

LABELS = {"environment": "prod", "region": "us-west-2", "tier": "gold"}


def sel(**kw: object) -> LabelSelector:
    return LabelSelector.model_validate(kw)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({}, True),
        ({"matchLabels": {"environment": "prod"}}, True),
        ({"matchLabels": {"environment": "dev"}}, False),
        ({"matchLabels": {"environment": "prod", "region": "eu-west-1"}}, False),
        ({"matchExpressions": [{"key": "region", "operator": "In", "values": ["us-west-2", "x"]}]}, True),
        ({"matchExpressions": [{"key": "region", "operator": "NotIn", "values": ["us-west-2"]}]}, False),
        ({"matchExpressions": [{"key": "missing", "operator": "NotIn", "values": ["a"]}]}, True),
        ({"matchExpressions": [{"key": "missing", "operator": "In", "values": ["a"]}]}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, False),
        ({"matchExpressions": [{"key": "legacy", "operator": "DoesNotExist"}]}, True),
        (
            {
                "matchLabels": {"environment": "prod"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["silver"]}],
            },
            False,
        ),
    ],
)
def test_matches(selector: dict[str, object], expected: bool) -> None:
    assert sel(**selector).matches(LABELS) is expected


@pytest.mark.parametrize(
    "bad",
    [
        {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
        {"matchExpressions": [{"key": "a", "operator": "NotIn"}]},
        {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
        {"matchExpressions": [{"key": "a", "operator": "Matches", "values": ["x"]}]},
        {"matchExpressions": [{"key": "-bad", "operator": "Exists"}]},
        {"matchLabels": {"env": "no spaces"}},
        {"matchLabels": {"Example.COM/x": "v"}},
        {"matchLabels": {"a" * 64: "v"}},
        {"matchLabels": {"k": "v" * 64}},
        {"matchLabel": {"k": "v"}},
    ],
)
def test_invalid_selectors_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        sel(**bad)


def test_valid_prefixed_keys_and_empty_values() -> None:
    s = sel(matchLabels={"topology.kubernetes.io/zone": "", "example.com/tier": "gold"})
    assert s.matches({"topology.kubernetes.io/zone": "", "example.com/tier": "gold"})
    assert not s.matches({"example.com/tier": "gold"})


label_keys = st.sampled_from(["environment", "region", "tier", "team"])
label_values = st.sampled_from(["a", "b", "c", "prod"])
label_sets = st.dictionaries(label_keys, label_values, max_size=4)
value_sets = st.lists(label_values, min_size=1, max_size=3, unique=True).map(tuple)


@given(labels=label_sets, key=label_keys, values=value_sets)
def test_notin_is_complement_of_in_over_present_keys(
    labels: dict[str, str], key: str, values: tuple[str, ...]
) -> None:
    in_ = Requirement(key=key, operator=Operator.In, values=values)
    not_in = Requirement(key=key, operator=Operator.NotIn, values=values)
    if key in labels:
        assert requirement_matches(in_, labels) != requirement_matches(not_in, labels)
    else:
        assert not requirement_matches(in_, labels)
        assert requirement_matches(not_in, labels)


@given(labels=label_sets, key=label_keys)
def test_exists_is_complement_of_does_not_exist(labels: dict[str, str], key: str) -> None:
    a = requirement_matches(Requirement(key=key, operator=Operator.Exists), labels)
    b = requirement_matches(Requirement(key=key, operator=Operator.DoesNotExist), labels)
    assert a != b


@given(labels=label_sets, match=label_sets)
def test_match_labels_equals_and_of_in(labels: dict[str, str], match: dict[str, str]) -> None:
    as_labels = sel(matchLabels=match).matches(labels)
    as_exprs = sel(
        matchExpressions=[{"key": k, "operator": "In", "values": [v]} for k, v in match.items()]
    ).matches(labels)
    assert as_labels == as_exprs == all(labels.get(k) == v for k, v in match.items())


@given(labels=label_sets)
def test_empty_selector_selects_everything(labels: dict[str, str]) -> None:
    assert LabelSelector().matches(labels)


def test_explain_names_each_requirement() -> None:
    s = sel(
        matchLabels={"environment": "prod"},
        matchExpressions=[{"key": "region", "operator": "NotIn", "values": ["us-west-2"]}],
    )
    results = explain(s, LABELS)
    assert [r.matched for r in results] == [True, False]
    assert results[0].requirement == "environment=prod"
    assert "us-west-2" in results[1].reason and "in" in results[1].reason
    assert s.describe() == "environment=prod,region notin (us-west-2)"
