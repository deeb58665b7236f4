"""Flux's substitution rules around the engine (reference §5.2-§5.6)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from fluxfleet.render.varsub import SubstitutionError, Variables, load_variables, substitute_resource


def _cm(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def _lookup(*objects: dict[str, Any]) -> Any:
    index = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    return lambda kind, name: index.get((kind, name))


def _res(**data: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x", "namespace": "ns"},
        "data": data,
    }


def test_inline_wins_over_substitute_from_and_later_sources_win() -> None:
    first = _cm("first", a="1", b="1")
    second = _cm("second", b="2", c="2")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "sec"},
        "data": {"c": base64.b64encode(b"3").decode(), "d": base64.b64encode(b"3").decode()},
    }
    post_build = {
        "substitute": {"d": "inline"},
        "substituteFrom": [
            {"kind": "ConfigMap", "name": "first"},
            {"kind": "ConfigMap", "name": "second"},
            {"kind": "Secret", "name": "sec"},
        ],
    }
    variables = load_variables(post_build, _lookup(first, second, secret))
    assert variables.values == {"a": "1", "b": "2", "c": "3", "d": "inline"}
    assert variables.complete


def test_optional_missing_source_is_skipped_and_required_missing_is_unknown() -> None:
    post_build = {"substituteFrom": [{"kind": "ConfigMap", "name": "gone", "optional": True}]}
    assert load_variables(post_build, _lookup()) == Variables({}, (), "WithVariables")
    post_build = {"substituteFrom": [{"kind": "Secret", "name": "in-cluster-only"}]}
    assert load_variables(post_build, _lookup()).unknown_sources == ("Secret/in-cluster-only",)


def test_newlines_are_removed_from_every_value() -> None:
    variables = load_variables(
        {"substitute": {"a": "x\ny\n"}, "substituteFrom": [{"kind": "ConfigMap", "name": "c"}]},
        _lookup(_cm("c", b="line1\nline2")),
    )
    assert variables.values == {"a": "xy", "b": "line1line2"}


@pytest.mark.parametrize("key", ["my-key", "cluster.name", "1abc"])
def test_invalid_variable_names_fail(key: str) -> None:
    with pytest.raises(SubstitutionError, match=f"'{key}' var name is invalid"):
        load_variables(
            {"substituteFrom": [{"kind": "ConfigMap", "name": "c"}]}, _lookup(_cm("c", **{key: "v"}))
        )


def test_substitution_runs_over_the_whole_resource_and_retypes_values() -> None:
    variables = Variables({"cluster": "prod", "port": "8080", "flag": "true"})
    out = substitute_resource(
        _res(name="app-${cluster}", port="${port}", enabled="${flag}", keep="$${x}"), variables, strict=True
    )
    assert out["data"] == {"name": "app-prod", "port": 8080, "enabled": True, "keep": "${x}"}


def test_strict_mode_fails_with_flux_message_and_non_strict_empties() -> None:
    with pytest.raises(
        SubstitutionError, match=r"post build failed for 'v1, Kind=ConfigMap/x'.*strict mode.*host"
    ):
        substitute_resource(_res(h="${host}"), Variables({"a": "b"}), strict=True)
    out = substitute_resource(_res(h="x${host}"), Variables({"a": "b"}), strict=False)
    assert out["data"]["h"] == "x"


@pytest.mark.parametrize(
    ("section", "value", "skipped"),
    [("labels", "disabled", True), ("annotations", "disabled", True), ("labels", "Disabled", False)],
)
def test_substitute_disabled_marker_is_exact_case(section: str, value: str, skipped: bool) -> None:
    body = _res(v="${missing}")
    body["metadata"][section] = {"kustomize.toolkit.fluxcd.io/substitute": value}
    if skipped:
        assert substitute_resource(body, Variables({"a": "b"}), strict=True) is body
    else:
        with pytest.raises(SubstitutionError):
            substitute_resource(body, Variables({"a": "b"}), strict=True)


def test_empty_map_passes_through_with_variables_and_substitutes_with_always() -> None:
    body = _res(a="${x}", b="${x:=d}", c="$${x}")
    assert substitute_resource(body, Variables({}, (), "WithVariables"), strict=True) is body
    out = substitute_resource(_res(b="${x:=d}", c="$${x}"), Variables({}, (), "Always"), strict=True)
    assert out["data"] == {"b": "d", "c": "${x}"}


def test_unknown_sources_leave_their_variables_as_written() -> None:
    out = substitute_resource(
        _res(a="${known}", b="${secret_var}"), Variables({"known": "k"}, ("Secret/vars",)), strict=True
    )
    assert out["data"] == {"a": "k", "b": "${secret_var}"}


def test_sops_masked_secret_as_source_counts_as_unknown() -> None:
    masked = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"token": base64.b64encode(b"**SOPS**").decode()},
    }
    variables = load_variables({"substituteFrom": [{"kind": "Secret", "name": "s"}]}, _lookup(masked))
    assert variables.values == {}
    assert variables.unknown_sources == ("Secret/s",)


# -- the scalar-wise shortcut must agree with Flux's whole-text mechanism -------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fluxfleet.render import envsubst  # noqa: E402
from fluxfleet.render.postbuild import copy_json  # noqa: E402
from fluxfleet.render.varsub import dollar_paths, substitute_in_place, substitute_text  # noqa: E402

_TEXT = st.text(alphabet="ab1$${}:-=+#' \"\\\n.x%", max_size=14)
_VALUES = st.text(alphabet="ab1 :#'\"\\-.tru9cZ_/(\t\r", max_size=6)


@settings(max_examples=400, deadline=None)
@given(
    strings=st.lists(_TEXT, min_size=1, max_size=4),
    values=st.dictionaries(st.sampled_from(["a", "b", "x"]), _VALUES, min_size=1, max_size=3),
    strict=st.booleans(),
)
def test_scalarwise_substitution_equals_whole_text(
    strings: list[str], values: dict[str, str], strict: bool
) -> None:
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {}}
    for i, text in enumerate(strings):
        body["data"][f"k{i}"] = text
    variables = Variables(values)
    options = envsubst.Options(strict=strict)

    def outcome(fn: Any) -> Any:
        try:
            return ("ok", fn())
        except SubstitutionError:
            return ("error", None)

    fast = outcome(lambda: substitute_resource(body, variables, strict=strict))
    in_place = outcome(
        lambda: substitute_in_place(copy_json(body), dollar_paths(body), variables, strict=strict)
    )
    slow = outcome(lambda: substitute_text(body, variables, options))
    assert fast == slow
    assert in_place == slow


def test_quoted_default_gives_the_unquoted_string_as_flux() -> None:
    # Flux serialises with go-yaml, which writes `${X:="4"}` plain; after substitution the quotes
    # delimit a YAML string, so the value is the string 4 (not "\"4\"", and not the number 4).
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "anubis"},
        "data": {"DIFFICULTY": '${ANUBIS_DIFFICULTY:="4"}', "MIXED": 'a ${B:="4"}', "SET": '${C:="4"}'},
    }
    variables = Variables({"C": "7"})
    want = {"DIFFICULTY": "4", "MIXED": 'a "4"', "SET": 7}
    assert substitute_resource(body, variables, strict=True)["data"] == want
    assert substitute_text(body, variables, envsubst.Options(strict=True))["data"] == want
    assert substitute_in_place(copy_json(body), dollar_paths(body), variables, strict=True)["data"] == want
