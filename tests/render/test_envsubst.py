"""Every row of the §5.5 syntax table, in strict and non-strict mode."""

from __future__ import annotations

import pytest

from fluxfleet.render.envsubst import EnvsubstError, Options, substitute

ENV = {"name": "app", "empty": "", "tag": "v1.2.3"}

# (input, non-strict result, strict result); None = error
TABLE = [
    ("${name}", "app", "app"),
    ("$name", "$name", "$name"),
    ("$${name}", "${name}", "${name}"),
    ("$$name", "$name", "$name"),
    ("echo $$", "echo $", "echo $"),
    ("$$$", "$$", "$$"),
    ("$$${name}", "$app", "$app"),
    ("$", "$", "$"),
    ("5$", "5$", "5$"),
    ("$(echo hi)", "$(echo hi)", "$(echo hi)"),
    ("\\${name}", "\\app", "\\app"),
    ("${missing}", "", None),
    ("${NAME}", "", None),
    ("${missing:=d}", "d", "d"),
    ("${missing:-d}", "d", "d"),
    ("${missing=d}", "d", "d"),
    ("${empty:=d}", "d", "d"),
    ("${empty:-d}", "d", "d"),
    ("${empty=d}", "d", "d"),
    ("${missing:-}", "", ""),
    ("${missing:+x}", "x", "x"),
    ("${empty:+x}", "x", "x"),
    ("${name:+x}", "app", "app"),
    ("${missing:?err}", "err", "err"),
    ("${name:?err}", "app", "app"),
    ("${tag#v}", "1.2.3", "1.2.3"),
    ("${tag%.*}", "v1.2", "v1.2"),
    ("${tag##*.}", "3", "3"),
    ("${tag%%.*}", "v1", "v1"),
    ("${tag/./-}", "v1-2.3", "v1-2.3"),
    ("${tag//./-}", "v1-2-3", "v1-2-3"),
    ("${tag/#v/V}", "V1.2.3", "V1.2.3"),
    ("${tag/%3/4}", "v1.2.4", "v1.2.4"),
    ("${name^^}", "APP", "APP"),
    ("${name^}", "App", "App"),
    ("${name,,}", "app", "app"),
    ("${name,}", "app", "app"),
    ("${#tag}", "6", "6"),
    ("${tag:1:3}", "1.2", "1.2"),
    ("${tag:1}", "1.2.3", "1.2.3"),
    ("${missing^^}", "", None),
    ("${#missing}", "0", None),
    ("${missing:=${name}}", "app", "app"),
    ("${name:-$name}", "app", "app"),
    ("${missing:-a b}", "a b", "a b"),
    ("${missing:=$${name}}", "$app", "$app"),
    ("$${A:=$${B}}", "${A:=${B}}", "${A:=${B}}"),
]

PARSE_ERRORS = [
    ("${missing-d}", "missing closing brace"),
    ("${empty-d}", "missing closing brace"),
    ("${foo.bar}", "missing closing brace"),
    ("${name", "missing closing brace"),
    ("${ name }", "unable to parse variable name"),
    ("${}", "unable to parse variable name"),
]


@pytest.mark.parametrize(("text", "lenient", "strict"), TABLE, ids=[row[0] for row in TABLE])
def test_syntax_table(text: str, lenient: str, strict: str | None) -> None:
    assert substitute(text, ENV, Options(strict=False)) == lenient
    if strict is None:
        with pytest.raises(EnvsubstError, match=r'variable not set \(strict mode\): "(missing|NAME)"'):
            substitute(text, ENV, Options(strict=True))
    else:
        assert substitute(text, ENV, Options(strict=True)) == strict


@pytest.mark.parametrize(("text", "message"), PARSE_ERRORS, ids=[row[0] for row in PARSE_ERRORS])
def test_parse_errors_in_both_modes(text: str, message: str) -> None:
    for strict in (False, True):
        with pytest.raises(EnvsubstError, match=message):
            substitute(text, ENV, Options(strict=strict))


def test_a_parse_error_anywhere_fails_the_whole_text_before_substituting() -> None:
    with pytest.raises(EnvsubstError):
        substitute("a: ${name}\nb: ${foo.bar}\n", ENV, Options(strict=False))


def test_keep_unknown_leaves_expressions_of_unknown_variables_verbatim() -> None:
    text = "a: ${name} b: ${other:=x} c: ${other^^} d: $$x"
    out = substitute(text, ENV, Options(strict=True, keep_unknown=True))
    assert out == "a: app b: ${other:=x} c: ${other^^} d: $x"


def test_worked_example_of_the_reference() -> None:
    text = 'name: app-${cluster_name}\nregion: ${region:=eu-west-1}\nreplicas: "${replicas}"\nscript: |\n  echo "$$HOME" ${HOSTNAME:-unknown} $${KEEP}\n'
    env = {"cluster_name": "prod-eu-1", "replicas": "3", "port": "8080"}
    expected = (
        'name: app-prod-eu-1\nregion: eu-west-1\nreplicas: "3"\nscript: |\n  echo "$HOME" unknown ${KEEP}\n'
    )
    assert substitute(text, env, Options(strict=True)) == expected
    with pytest.raises(EnvsubstError, match="missing_host"):
        substitute(text + "host: ${missing_host}\n", env, Options(strict=True))
