"""Flux's post-build substitution rules around the engine (fluxcd/pkg ``kustomize_varsub.go``).

Builds the variable map of a Kustomization (``substituteFrom`` in order, later entries win, inline
``substitute`` last and winning; newlines removed from every value; every key must be a valid
variable name) and substitutes one resource: skipped when labelled or annotated
``kustomize.toolkit.fluxcd.io/substitute: disabled`` (exact case), passed through untouched when the
map is empty and the strategy is ``WithVariables``, otherwise its YAML text goes through the engine
and is parsed back, so substituted values are re-typed as YAML.

Offline, a ``substituteFrom`` source may exist only in the live cluster. Its variables are
*unknown*, not empty: expressions naming a variable the render does not know stay as written.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fluxfleet import yamlio
from fluxfleet.errors import FleetError
from fluxfleet.render import envsubst

SUBSTITUTE_KEY = "kustomize.toolkit.fluxcd.io/substitute"
VAR_NAME_PATTERN = "^[_[:alpha:]][_[:alpha:][:digit:]]*$"
_VAR_NAME = re.compile(r"^[_A-Za-z][_A-Za-z0-9]*$")


class SubstitutionError(Exception):
    """A resource (or the whole variable map) failed substitution; the message is Flux's."""


@dataclass(frozen=True)
class Variables:
    """The final variable map of one Kustomization and what the render could not know."""

    values: dict[str, str] = field(default_factory=dict)
    unknown_sources: tuple[str, ...] = ()  # "ConfigMap/name" found neither in the render nor optional
    strategy: str = "WithVariables"

    @property
    def complete(self) -> bool:
        return not self.unknown_sources


# Looks up a ConfigMap/Secret of the Kustomization's namespace in what the cluster renders.
# Returns its body, or None when the render has no such object.
Lookup = Callable[[str, str], "Mapping[str, Any] | None"]


def _source_values(kind: str, body: Mapping[str, Any]) -> tuple[dict[str, str], bool]:
    """(key -> value, whether every value is known). SOPS-masked Secret values are not known."""
    data = body.get("data") or {}
    out: dict[str, str] = {}
    known = True
    if not isinstance(data, dict):
        return out, known
    for key, raw in data.items():
        value = "" if raw is None else str(raw)
        if kind == "Secret":
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise SubstitutionError(
                    f"substitute from 'Secret/{body.get('metadata', {}).get('name', '')}' error: "
                    f"key '{key}' is not valid base64"
                ) from None
            if decoded in ("**SOPS**", '{"mask":"**SOPS**"}'):
                known = False
                continue
            value = decoded
        out[str(key)] = value
    return out, known


def load_variables(post_build: Mapping[str, Any], lookup: Lookup) -> Variables:
    """The variable map of ``spec.postBuild``; raises :class:`SubstitutionError` like Flux does."""
    values: dict[str, str] = {}
    unknown: list[str] = []
    for ref in post_build.get("substituteFrom") or []:
        if not isinstance(ref, dict):
            continue
        kind = str(ref.get("kind") or "")
        name = str(ref.get("name") or "")
        if kind not in ("ConfigMap", "Secret"):
            raise SubstitutionError(
                f"substitute from '{kind}/{name}' error: kind must be ConfigMap or Secret"
            )
        body = lookup(kind, name)
        if body is None:
            if not ref.get("optional"):
                unknown.append(f"{kind}/{name}")
            continue
        found, known = _source_values(kind, body)
        if not known:
            unknown.append(f"{kind}/{name}")
        values.update(found)
    inline = post_build.get("substitute") or {}
    if isinstance(inline, dict):
        values.update({str(k): "" if v is None else str(v) for k, v in inline.items()})
    cleaned = {k: v.replace("\n", "") for k, v in values.items()}
    for key in cleaned:
        if not _VAR_NAME.match(key):
            raise SubstitutionError(f"'{key}' var name is invalid, must match '{VAR_NAME_PATTERN}'")
    strategy = str(post_build.get("substituteStrategy") or "WithVariables")
    return Variables(cleaned, tuple(unknown), strategy)


def is_disabled(body: Mapping[str, Any]) -> bool:
    meta = body.get("metadata") or {}
    for section in ("labels", "annotations"):
        marks = meta.get(section) or {}
        if isinstance(marks, dict) and marks.get(SUBSTITUTE_KEY) == "disabled":
            return True
    return False


def _has_dollar(node: Any) -> bool:
    if isinstance(node, str):
        return "$" in node
    if isinstance(node, dict):
        return any(_has_dollar(k) or _has_dollar(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_has_dollar(v) for v in node)
    return False


def referenced_names(node: Any, memo: ScalarMemo | None = None) -> frozenset[str] | None:
    """Every variable name an object's expressions read; None when a string does not parse."""
    names: set[str] = set()
    scalars = memo or ScalarMemo()

    def visit_nodes(nodes: list[envsubst.Node]) -> None:
        for item in nodes:
            if isinstance(item, envsubst.Expr):
                names.add(item.name)
                for arg in item.args:
                    visit_nodes(arg)

    def visit(value: Any) -> bool:
        if isinstance(value, str):
            if "$" in value:
                try:
                    visit_nodes(scalars.template(value))
                except envsubst.EnvsubstError:
                    return False
            return True
        if isinstance(value, dict):
            return all(visit(k) and visit(v) for k, v in value.items())
        if isinstance(value, list):
            return all(visit(v) for v in value)
        return True

    return frozenset(names) if visit(node) else None


def resource_label(body: Mapping[str, Any]) -> str:
    meta = body.get("metadata") or {}
    api = str(body.get("apiVersion") or "")
    return f"{api}, Kind={body.get('kind', '')}/{meta.get('name', '')}"


class _Fallback(Exception):
    """The scalar-wise shortcut cannot prove it matches the whole-text result."""


_PLAIN_SAFE = re.compile(r"^[A-Za-z0-9_/+($][^\n]*$")
_QUOTE_CHARS = ("'", '"', "\\")
# First characters for which YAML 1.2 core resolves a plain scalar to something other than a string
# (bool t/T/f/F, null n/N/~, int and float digits, signs and ".").
_RESOLVABLE_FIRST = frozenset("tTfFnN~-+.0123456789")
_MEMO_MAX = 200_000
_GO_FIRST_INDICATORS = frozenset("#,[]{}&*!|>'\"%@`")


def goyaml_block_plain(text: str) -> bool:
    """Whether go-yaml (what Flux serialises resources with) writes this string unquoted.

    go-yaml's emitter only refuses the plain style in block context for leading indicator
    characters, ``: `` and `` #`` inside, surrounding spaces, line breaks and unprintable
    characters; quote characters inside the text do not count (PyYAML would quote them). Callers
    pass strings holding ``$`` or ``<<``, which never read back as another type.
    """
    if not text or text != text.strip(" ") or "\n" in text or not text.isprintable():
        return False
    first = text[0]
    if first in _GO_FIRST_INDICATORS or text.startswith(("---", "...")):
        return False
    if first in "?:-" and (len(text) == 1 or text[1] in " \t"):
        return False
    return not (": " in text or " #" in text or "\t#" in text or text.endswith(":"))


class ScalarMemo:
    """What substitution learns about scalar texts: their serialised style and parsed template.

    Owned by a render session (texts repeat across every cluster that shares a build); bounded.
    """

    def __init__(self) -> None:
        self.styles: dict[str, str] = {}
        self.templates: dict[str, list[envsubst.Node] | str] = {}  # str: the parse error

    def style(self, text: str) -> str:
        """How :func:`yamlio.dump` writes this string: plain, single, double, literal (or complex)."""
        style = self.styles.get(text)
        if style is None:
            emitted = yamlio.dump({"k": text})[3:]
            first = emitted[:1]
            if first in ("'", '"'):
                style = "single" if first == "'" else "double"
            elif first == "|":
                style = "literal"
            elif emitted.count("\n") == 1 and emitted[:-1] == text:
                style = "plain"
            else:
                style = "complex"
            if len(self.styles) > _MEMO_MAX:
                self.styles.clear()
            self.styles[text] = style
        return style

    def template(self, text: str) -> list[envsubst.Node]:
        """``envsubst.parse(text)``, once per distinct text (raises its EnvsubstError every time)."""
        hit = self.templates.get(text)
        if hit is None:
            try:
                hit = envsubst.parse(text)
            except envsubst.EnvsubstError as exc:
                hit = str(exc)
            if len(self.templates) > _MEMO_MAX:
                self.templates.clear()
            self.templates[text] = hit
        if isinstance(hit, str):
            raise envsubst.EnvsubstError(hit)
        return hit


def _retype(text: str) -> Any:
    """A plain scalar read back as YAML 1.2 core would read it (raises _Fallback when unsure)."""
    if text == "":
        return None
    if text[0] in "\"'":  # a default written with quotes: the quotes now delimit a YAML string
        try:
            docs = yamlio.load_all(text, "<scalar>")
        except FleetError:
            raise _Fallback from None
        if len(docs) == 1 and isinstance(docs[0], str):
            return docs[0]
        raise _Fallback
    if (
        not _PLAIN_SAFE.match(text)
        or ": " in text
        or " #" in text
        or text.endswith(":")
        or text != text.strip()
    ):
        raise _Fallback
    if text[0] not in _RESOLVABLE_FIRST and text.isprintable():
        return text  # no core-schema resolver starts with this character: it stays a string
    docs = yamlio.load_all(text, "<scalar>")
    if len(docs) != 1 or isinstance(docs[0], dict | list):
        raise _Fallback
    return docs[0]


def _scalarwise(
    node: Any, env: dict[str, str], options: envsubst.Options, quotes_safe: bool, memo: ScalarMemo
) -> Any:
    """Substitute string scalars one by one; equal to the whole-text path whenever it returns.

    Flux substitutes the serialised resource and re-parses it. For a scalar whose serialised form
    is plain, quoted or a literal block, and values that cannot break that form (values never
    contain newlines; quote and backslash characters make the quoted forms unsafe), substituting
    the scalar alone and re-typing plain results gives the same object at a fraction of the cost.
    """
    if isinstance(node, dict):
        out: dict[Any, Any] = {}
        for key, value in node.items():
            if isinstance(key, str) and "$" in key:
                raise _Fallback
            out[key] = _scalarwise(value, env, options, quotes_safe, memo)
        return out
    if isinstance(node, list):
        return [_scalarwise(v, env, options, quotes_safe, memo) for v in node]
    if not isinstance(node, str) or "$" not in node:
        return node
    style = "plain" if goyaml_block_plain(node) else memo.style(node)
    if style == "complex" or (style in ("single", "double") and not quotes_safe):
        raise _Fallback
    result = envsubst.evaluate(memo.template(node), env, options)
    if result == node:
        return node
    return _retype(result) if style == "plain" else result


def substitute_resource(
    body: dict[str, Any], variables: Variables, *, strict: bool, memo: ScalarMemo | None = None
) -> dict[str, Any]:
    """The resource after substitution (the same object when nothing applies)."""
    if is_disabled(body):
        return body
    if not variables.values and variables.strategy != "Always" and variables.complete:
        return body
    if not _has_dollar(body):
        return body
    options = envsubst.Options(strict=strict, keep_unknown=not variables.complete)
    quotes_safe = not any(c in v for v in variables.values.values() for c in _QUOTE_CHARS)
    try:
        out = _scalarwise(body, variables.values, options, quotes_safe, memo or ScalarMemo())
        if isinstance(out, dict):
            return out
    except (_Fallback, envsubst.EnvsubstError):
        pass  # the whole-text path decides, and words errors exactly as Flux does
    return substitute_text(body, variables, options)


Path = tuple[str | int, ...]


def dollar_paths(node: Any, prefix: Path = ()) -> list[Path] | None:
    """Paths of the string values that contain ``$``; None when a key does (only whole-text works)."""
    out: list[Path] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and "$" in key:
                return None
            sub = dollar_paths(value, (*prefix, key))
            if sub is None:
                return None
            out.extend(sub)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            sub = dollar_paths(value, (*prefix, i))
            if sub is None:
                return None
            out.extend(sub)
    elif isinstance(node, str) and "$" in node:
        out.append(prefix)
    return out


def substitute_in_place(
    body: dict[str, Any],
    paths: list[Path] | None,
    variables: Variables,
    *,
    strict: bool,
    memo: ScalarMemo | None = None,
) -> dict[str, Any]:
    """Like :func:`substitute_resource` for a private copy whose ``$`` strings are at ``paths``."""
    if is_disabled(body) or (not variables.values and variables.strategy != "Always" and variables.complete):
        return body
    if paths is not None and not paths:
        return body
    options = envsubst.Options(strict=strict, keep_unknown=not variables.complete)
    quotes_safe = not any(c in v for v in variables.values.values() for c in _QUOTE_CHARS)
    if paths is not None:
        scalars = memo or ScalarMemo()
        updates: list[tuple[Any, str | int, Any]] = []
        try:
            for path in paths:
                parent: Any = body
                for step in path[:-1]:
                    parent = parent[step]
                value = _scalarwise(parent[path[-1]], variables.values, options, quotes_safe, scalars)
                updates.append((parent, path[-1], value))
        except (_Fallback, envsubst.EnvsubstError):
            updates = []
        else:
            for parent, step, value in updates:
                parent[step] = value
            return body
    return substitute_text(body, variables, options)


def goyaml_text(body: dict[str, Any], marker: str = "$") -> str:
    """``yamlio.dump`` with the strings holding ``marker`` that go-yaml writes plain written plain too.

    Each such string PyYAML would quote is swapped for a plain token before dumping and put back
    verbatim after, so ``x: ${A:="4"}`` stays unquoted as Flux serialises it.
    """
    swapped: dict[str, str] = {}
    prefix = "fluxfleetgoplain"

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, str) and marker in node and goyaml_block_plain(node):
            token = f"{prefix}{len(swapped):07d}x"
            swapped[token] = node
            return token
        return node

    plain = yamlio.dump(body)
    while prefix in plain:
        prefix += "z"
    tokenised = walk(body)
    if not swapped:
        return plain
    text = yamlio.dump(tokenised)
    for token, raw in swapped.items():
        text = text.replace(token, raw)
    return text


def substitute_text(body: dict[str, Any], variables: Variables, options: envsubst.Options) -> dict[str, Any]:
    """Flux's mechanism literally: serialise (as go-yaml would), substitute the whole text, parse it back."""
    text = goyaml_text(body)
    try:
        result = envsubst.substitute(text, variables.values, options)
    except envsubst.EnvsubstError as exc:
        raise SubstitutionError(
            f"post build failed for '{resource_label(body)}': "
            f"envsubst error: variable substitution failed: {exc}"
        ) from None
    if result == text:
        return body
    try:
        docs = yamlio.load_all(result, "<substituted>")
    except FleetError as exc:
        raise SubstitutionError(
            f"post build failed for '{resource_label(body)}': substituted YAML does not parse: {exc.message}"
        ) from None
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise SubstitutionError(
            f"post build failed for '{resource_label(body)}': substitution changed the document structure"
        )
    return docs[0]
