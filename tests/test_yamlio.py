"""yamlio: YAML 1.2 scalars as Kubernetes reads them, and dump/load round trips."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from fluxfleet import yamlio
from fluxfleet.errors import FleetError


def test_yaml_12_scalars() -> None:
    [doc] = yamlio.load_all("a: yes\nb: on\nc: 1:30\nd: 2024-01-01\ne: true\nf: 0o17\nh: ~\ni: 1e3\n")
    assert doc == {
        "a": "yes",
        "b": "on",
        "c": "1:30",
        "d": "2024-01-01",
        "e": True,
        "f": 15,
        "h": None,
        "i": 1000.0,
    }


def test_malformed_yaml_has_location() -> None:
    with pytest.raises(FleetError) as info:
        yamlio.load_all("a: [1, 2\nb: 3\n", "x.yaml")
    assert info.value.location.file == "x.yaml" and info.value.location.line is not None


def test_alias_bomb_refused_and_plain_aliases_allowed() -> None:
    assert yamlio.load_all("a: &x [1, 2]\nb: *x\n") == [{"a": [1, 2], "b": [1, 2]}]
    bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{n}: &{n} [{','.join(['*' + p] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
    with pytest.raises(FleetError, match="expand"):
        yamlio.load_all(bomb)


def test_recursive_alias_refused() -> None:
    with pytest.raises(FleetError, match="recursive"):
        yamlio.load_all("a: &a\n  b: *a\n")


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x85\u2028\u2029\ufeff"),
        max_size=12,
    ),
    st.sampled_from(
        ["yes", "no", "on", "1:30", "0x1f", "1e3", "-", ": x", "a #b", "${X}", "v1.2.3", "*a", "&b", "'q'"]
    ),
)
docs = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(st.text(min_size=1, max_size=8), docs, min_size=1, max_size=5))
def test_dump_round_trips_under_both_yaml_versions(data: dict[str, object]) -> None:
    text = yamlio.dump(data)
    assert yamlio.load_all(text) == [data]
    assert yaml.safe_load(text) == data
