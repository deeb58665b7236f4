"""The part of Go's text/template that Flux Operator ResourceSets use, with ``<<``/``>>`` delimiters.

flux-operator executes each template with no data (dot is nil), a function ``inputs`` returning
the input set, ``missingkey=error``, slim-sprig's hermetic functions, ``slugify`` and ``toYaml``.
Supported here: text and actions with ``<<-``/``->>`` trimming and comments; ``if``/``else if``/
``else``, ``range`` (lists, maps in key order, integers; with ``$i, $v :=``), ``with``, ``end``;
variables (``$x := …``, ``$x = …``, ``$``); pipelines with ``|``, parentheses and field chains
(``inputs.app.name``, ``(index inputs "a").b``); literals; and the common functions listed in
``FUNCS``. Anything else raises :class:`TemplateError` naming it, so a ResourceSet is reported as
not expanded rather than expanded wrongly.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

LEFT, RIGHT = "<<", ">>"

# A ResourceSet comes from the repository, so from anyone's pull request: its templates get a
# budget (steps, bytes, seconds) far above any real one, and a clear error past it.
MAX_STEPS = 1_000_000
MAX_BYTES = 16 << 20
MAX_SECONDS = 10.0


class TemplateError(Exception):
    pass


class BudgetError(TemplateError):
    """The template went over its budget: a hostile or broken template, an error, not a skip."""


# -- values as Go prints and tests them --------------------------------------------------------


def go_string(value: Any) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_string(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_string(v) for v in value) + "]"
    return str(value)


def truth(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, str | list | dict):
        return len(value) > 0
    return True


# -- functions ---------------------------------------------------------------------------------


def _slugify(text: Any) -> str:
    normal = unicodedata.normalize("NFKD", go_string(text)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", normal.lower()).strip("-")
    if len(slug) > 63:  # flux-operator: at most 63 characters, cut at a word boundary
        cut = slug[:63]
        slug = cut.rsplit("-", 1)[0] if "-" in cut else cut
    return slug


def _default(default: Any, *given: Any) -> Any:
    return given[0] if given and truth(given[0]) else default


def _index(container: Any, *keys: Any) -> Any:
    node = container
    for key in keys:
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            node = node[key]
        else:
            raise TemplateError(f"index of {go_string(key)} out of range")
    return node


def _printf(fmt: str, *args: Any) -> str:
    values = iter(args)

    def one(match: re.Match[str]) -> str:
        verb = match.group(1)
        if verb == "%":
            return "%"
        value = next(values, None)
        if verb == "q":
            return json.dumps(go_string(value))
        if verb == "d" and isinstance(value, int | float):
            return str(int(value))
        return go_string(value)

    return re.sub(r"%([svdq%])", one, fmt)


def _compare(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def run(a: Any, b: Any) -> bool:
        try:
            return op(a, b)
        except TypeError:
            raise TemplateError(
                f"incompatible types for comparison: {go_string(a)}, {go_string(b)}"
            ) from None

    return run


def _to_int(value: Any) -> int:
    try:
        return int(float(value)) if not isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return 0


def _to_yaml(value: Any) -> str:
    # flux-operator's own toYaml: sigs.k8s.io/yaml (keys sorted through JSON), newline kept
    return str(yaml.safe_dump(value, default_flow_style=False, sort_keys=True, allow_unicode=True))


def _indent(n: Any, text: Any) -> str:
    width = _to_int(n)
    if width > MAX_BYTES:
        raise BudgetError(f"indent {width}: over the template budget of {MAX_BYTES} bytes")
    pad = " " * width
    return pad + go_string(text).replace("\n", "\n" + pad)


FUNCS: dict[str, Callable[..., Any]] = {
    "eq": lambda a, *bs: any(a == b for b in bs),
    "ne": lambda a, b: a != b,
    "lt": _compare(lambda a, b: a < b),
    "le": _compare(lambda a, b: a <= b),
    "gt": _compare(lambda a, b: a > b),
    "ge": _compare(lambda a, b: a >= b),
    "not": lambda a: not truth(a),
    "len": lambda a: len(a) if a is not None else 0,
    "index": _index,
    "print": lambda *a: "".join(go_string(x) for x in a),
    "printf": _printf,
    "default": _default,
    "empty": lambda a: not truth(a),
    "coalesce": lambda *a: next((x for x in a if truth(x)), None),
    "ternary": lambda yes, no, cond: yes if truth(cond) else no,
    "quote": lambda *a: " ".join(json.dumps(go_string(x)) for x in a if x is not None),
    "squote": lambda *a: " ".join(f"'{go_string(x)}'" for x in a if x is not None),
    "lower": lambda s: go_string(s).lower(),
    "upper": lambda s: go_string(s).upper(),
    "title": lambda s: go_string(s).title(),
    "trim": lambda s: go_string(s).strip(),
    "trimPrefix": lambda p, s: go_string(s).removeprefix(go_string(p)),
    "trimSuffix": lambda p, s: go_string(s).removesuffix(go_string(p)),
    "replace": lambda old, new, s: go_string(s).replace(go_string(old), go_string(new)),
    "contains": lambda sub, s: go_string(sub) in go_string(s),
    "hasPrefix": lambda p, s: go_string(s).startswith(go_string(p)),
    "hasSuffix": lambda p, s: go_string(s).endswith(go_string(p)),
    "toString": go_string,
    "int": _to_int,
    "toYaml": _to_yaml,
    "mustToYaml": _to_yaml,
    "toJson": lambda v: json.dumps(v, separators=(",", ":"), sort_keys=True),
    "join": lambda sep, items: go_string(sep).join(go_string(x) for x in (items or [])),
    "split": lambda sep, s: {f"_{i}": p for i, p in enumerate(go_string(s).split(go_string(sep)))},
    "splitList": lambda sep, s: go_string(s).split(go_string(sep)),
    "list": lambda *a: list(a),
    "dict": lambda *a: {go_string(a[i]): a[i + 1] if i + 1 < len(a) else "" for i in range(0, len(a), 2)},
    "get": lambda d, k: d.get(k, "") if isinstance(d, dict) else "",
    "hasKey": lambda d, k: isinstance(d, dict) and k in d,
    "keys": lambda *ds: [k for d in ds if isinstance(d, dict) for k in d],
    "slugify": _slugify,
    "indent": _indent,
    "nindent": lambda n, text: "\n" + _indent(n, text),
    "add": lambda *a: sum(_to_int(x) for x in a),
    "sub": lambda a, b: _to_int(a) - _to_int(b),
}


# -- lexing ------------------------------------------------------------------------------------


def _split(text: str) -> list[tuple[str, str]]:
    """``[("text", …), ("action", …)]`` with ``<<-``/``->>`` trimming applied."""
    out: list[tuple[str, str]] = []
    pos = 0
    while True:
        start = text.find(LEFT, pos)
        if start < 0:
            out.append(("text", text[pos:]))
            return out
        chunk = text[pos:start]
        inner_start = start + len(LEFT)
        if text.startswith("- ", inner_start) or text.startswith("-\n", inner_start):
            chunk = chunk.rstrip()
            inner_start += 1
        end = text.find(RIGHT, inner_start)
        if end < 0:
            raise TemplateError("unclosed action")
        inner_end = end
        trim_right = end > inner_start and text[end - 1] == "-" and text[end - 2 : end - 1].isspace()
        if trim_right:
            inner_end -= 1
        out.append(("text", chunk))
        out.append(("action", text[inner_start:inner_end].strip()))
        pos = end + len(RIGHT)
        if trim_right:
            while pos < len(text) and text[pos].isspace():
                pos += 1


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<raw>`[^`]*`)
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<decl>:=)
    | (?P<assign>=)
    | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
    | (?P<field>(?:\.[A-Za-z0-9_]+)+|\.)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
    | (?P<punct>[()|,])
    )""",
    re.VERBOSE,
)


@dataclass
class Tok:
    kind: str
    text: str
    glued: bool = False  # directly after the previous token (a ``).field`` chain)


def _tokens(expr: str) -> list[Tok]:
    out: list[Tok] = []
    pos = 0
    expr = expr.rstrip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None or m.end() == pos:
            raise TemplateError(f"unexpected {expr[pos : pos + 10]!r} in action")
        kind = m.lastgroup or ""
        out.append(Tok(kind, m.group(kind), glued=m.start(kind) == pos))
        pos = m.end()
    return out


# -- parsing -----------------------------------------------------------------------------------


@dataclass
class Node:
    kind: str  # text | action | if | range | with
    text: str = ""
    expr: list[Tok] = field(default_factory=list)
    body: list[Node] = field(default_factory=list)
    orelse: list[Node] = field(default_factory=list)


def parse(text: str) -> list[Node]:
    parts = _split(text)
    nodes, _, stop = _parse_list(parts, 0)
    if stop is not None:
        raise TemplateError(f"unexpected <<{stop}>>")
    return nodes


def _parse_list(parts: list[tuple[str, str]], i: int) -> tuple[list[Node], int, str | None]:
    nodes: list[Node] = []
    while i < len(parts):
        kind, text = parts[i]
        i += 1
        if kind == "text":
            if text:
                nodes.append(Node("text", text))
            continue
        if text.startswith("/*") and text.endswith("*/"):
            continue
        word = text.split(None, 1)[0] if text.split() else ""
        if word in ("end", "else"):
            return nodes, i, text
        if word in ("if", "range", "with"):
            node = Node(word, expr=_tokens(text[len(word) :]))
            node.body, i, stop = _parse_list(parts, i)
            while stop is not None and stop.startswith("else"):
                rest = stop[4:].strip()
                if rest.startswith("if ") and word == "if":
                    inner = Node("if", expr=_tokens(rest[3:]))
                    inner.body, i, stop = _parse_list(parts, i)
                    node.orelse = [inner]
                    # the chain shares one <<end>>: attach later else branches to the innermost if
                    target = inner
                    while stop is not None and stop.startswith("else"):
                        rest = stop[4:].strip()
                        if rest.startswith("if "):
                            nxt = Node("if", expr=_tokens(rest[3:]))
                            nxt.body, i, stop = _parse_list(parts, i)
                            target.orelse = [nxt]
                            target = nxt
                        else:
                            target.orelse, i, stop = _parse_list(parts, i)
                    break
                node.orelse, i, stop = _parse_list(parts, i)
            if stop != "end":
                raise TemplateError(f"<<{word}>> without <<end>>")
            nodes.append(node)
            continue
        if word in ("define", "template", "block", "break", "continue"):
            raise TemplateError(f"template action {word!r} is not supported offline")
        nodes.append(Node("action", expr=_tokens(text)))
    return nodes, i, None


# -- evaluation --------------------------------------------------------------------------------


class _Scope:
    def __init__(self, inputs: dict[str, Any]) -> None:
        self.inputs = inputs
        self.frames: list[dict[str, Any]] = [{"": None}]

    def get(self, name: str) -> Any:
        for frame in reversed(self.frames):
            if name in frame:
                return frame[name]
        raise TemplateError(f'undefined variable "${name}"')

    def set(self, name: str, value: Any, declare: bool) -> None:
        if declare:
            self.frames[-1][name] = value
            return
        for frame in reversed(self.frames):
            if name in frame:
                frame[name] = value
                return
        raise TemplateError(f'undefined variable "${name}"')


def _fields(value: Any, names: list[str], label: str) -> Any:
    for name in names:
        if isinstance(value, dict):
            if name not in value:
                raise TemplateError(f'map has no entry for key "{name}" ({label})')
            value = value[name]
        elif value is None:
            raise TemplateError(f"nil pointer evaluating {label}")
        else:
            raise TemplateError(f"can't evaluate field {name} in {label}")
    return value


def _over(value: Any, budget: int, deadline: float) -> bool:
    """Whether ``value`` would print to more than ``budget`` bytes; walks at most that many nodes
    (lists built from themselves share nodes, so their printed size can be exponential)."""
    stack, size = [value], 0
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            size += len(node) + 2
        elif isinstance(node, dict):
            size += 2 + len(node)
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            size += 2 + len(node)
            stack.extend(node)
        else:
            size += 8
        if size > budget:
            return True
        if size & 0xFFFF == 0 and time.monotonic() > deadline:
            return True
    return False


class _Eval:
    def __init__(self, inputs: dict[str, Any]) -> None:
        self.scope = _Scope(inputs)
        self.funcs = dict(FUNCS)
        self.funcs["inputs"] = lambda: inputs
        self.steps = 0
        self.size = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise BudgetError(f"template runs more than {MAX_STEPS} steps (an endless or huge range?)")
        if self.steps & 0x3FF == 0 and time.monotonic() > self.deadline:
            raise BudgetError(f"template did not finish within {MAX_SECONDS:.0f}s")

    def emit(self, out: list[str], text: str) -> None:
        self.size += len(text)
        if self.size > MAX_BYTES:
            raise BudgetError(f"template output is over {MAX_BYTES >> 20} MiB")
        out.append(text)

    def bounded(self, name: str, value: Any) -> Any:
        if _over(value, MAX_BYTES, self.deadline):
            raise BudgetError(f"{name}: a value over the template budget of {MAX_BYTES >> 20} MiB")
        return value

    def pipeline(self, toks: list[Tok], dot: Any) -> tuple[Any, list[str], bool]:
        """(value, declared variable names, whether it was a declaration)."""
        names: list[str] = []
        declare = False
        for j, tok in enumerate(toks):
            if tok.kind in ("decl", "assign"):
                names = [t.text[1:] for t in toks[:j] if t.kind == "var"]
                declare = tok.kind == "decl"
                toks = toks[j + 1 :]
                break
        commands: list[list[Tok]] = [[]]
        depth = 0
        for tok in toks:
            if tok.kind == "punct" and tok.text == "(":
                depth += 1
            elif tok.kind == "punct" and tok.text == ")":
                depth -= 1
            if tok.kind == "punct" and tok.text == "|" and depth == 0:
                commands.append([])
            else:
                commands[-1].append(tok)
        value: Any = None
        for k, command in enumerate(commands):
            if not command:
                raise TemplateError("missing command in pipeline")
            value = self.command(command, dot, (value,) if k else ())
        return value, names, declare

    def command(self, toks: list[Tok], dot: Any, piped: tuple[Any, ...]) -> Any:
        operands = list(self._operands(toks))
        head = operands[0]
        if head[0] == "ident" and not head[2]:  # a function call with arguments
            name = head[1]
            if name in ("and", "or"):  # Go evaluates these lazily, left to right
                return self._logic(name == "and", operands[1:], dot, piped)
            func = self.funcs.get(name)
            if func is None:
                raise TemplateError(f'function "{name}" is not supported offline')
            args = [self.operand(op, dot) for op in operands[1:]] + list(piped)
            self.tick()
            self.bounded(name, args)
            try:
                return self.bounded(name, func(*args))
            except TemplateError:
                raise
            except (TypeError, ValueError, AttributeError, KeyError) as exc:
                raise TemplateError(f"error calling {name}: {exc}") from None
        if len(operands) > 1 or piped:
            raise TemplateError("can't give arguments to a non-function")
        return self.operand(head, dot)

    def _logic(
        self, want_all: bool, operands: list[tuple[str, Any, list[str]]], dot: Any, piped: tuple[Any, ...]
    ) -> Any:
        if not operands and not piped:
            raise TemplateError("and/or need at least one argument")
        value: Any = None
        for op in operands:
            value = self.operand(op, dot)
            if truth(value) != want_all:
                return value
        return piped[-1] if piped else value

    def _operands(self, toks: list[Tok]) -> Iterator[tuple[str, Any, list[str]]]:
        i = 0
        while i < len(toks):
            tok = toks[i]
            if tok.kind == "punct" and tok.text == "(":
                depth, j = 0, i
                while j < len(toks):
                    if toks[j].kind == "punct" and toks[j].text == "(":
                        depth += 1
                    elif toks[j].kind == "punct" and toks[j].text == ")":
                        depth -= 1
                        if depth == 0:
                            break
                    j += 1
                if j >= len(toks):
                    raise TemplateError("unclosed parenthesis")
                chain: list[str] = []
                if j + 1 < len(toks) and toks[j + 1].kind == "field" and toks[j + 1].glued:
                    chain = [p for p in toks[j + 1].text.split(".") if p]
                    j += 1
                yield ("group", toks[i + 1 : j - (1 if chain else 0)], chain)
                i = j + 1
                continue
            if tok.kind == "ident":
                name, *chain = tok.text.split(".")
                yield ("ident", name, chain)
            elif tok.kind == "var":
                name, *chain = tok.text[1:].split(".")
                yield ("var", name, chain)
            elif tok.kind == "field":
                yield ("field", None, [p for p in tok.text.split(".") if p])
            elif tok.kind in ("str", "raw", "num"):
                yield (tok.kind, tok.text, [])
            else:
                raise TemplateError(f"unexpected {tok.text!r} in command")
            i += 1

    def operand(self, op: tuple[str, Any, list[str]], dot: Any) -> Any:
        kind, value, chain = op
        if kind == "str":
            base: Any = json.loads(value)
        elif kind == "raw":
            base = value[1:-1]
        elif kind == "num":
            base = float(value) if "." in value else int(value)
        elif kind == "var":
            base = self.scope.get(value)
        elif kind == "field":
            return _fields(dot, chain, "." + ".".join(chain))
        elif kind == "group":
            base, _, _ = self.pipeline(value, dot)
        else:
            if value in ("true", "false"):
                base = value == "true"
            elif value == "nil":
                base = None
            else:
                func = self.funcs.get(value)
                if func is None:
                    raise TemplateError(f'function "{value}" is not supported offline')
                base = func()
        return _fields(base, chain, ".".join([str(value), *chain]) if chain else str(value))

    def run(self, nodes: list[Node], dot: Any, out: list[str]) -> None:
        for node in nodes:
            self.tick()
            if node.kind == "text":
                self.emit(out, node.text)
            elif node.kind == "action":
                value, names, declare = self.pipeline(node.expr, dot)
                if names:
                    self.scope.set(names[-1], value, declare)
                else:
                    self.emit(out, go_string(self.bounded("output", value)))
            elif node.kind == "if":
                self.scope.frames.append({})
                value, names, declare = self.pipeline(node.expr, dot)
                if names:
                    self.scope.set(names[-1], value, declare)
                self.run(node.body if truth(value) else node.orelse, dot, out)
                self.scope.frames.pop()
            elif node.kind == "with":
                self.scope.frames.append({})
                value, names, declare = self.pipeline(node.expr, dot)
                if names:
                    self.scope.set(names[-1], value, declare)
                if truth(value):
                    self.run(node.body, value, out)
                else:
                    self.run(node.orelse, dot, out)
                self.scope.frames.pop()
            elif node.kind == "range":
                self._range(node, dot, out)

    def _range(self, node: Node, dot: Any, out: list[str]) -> None:
        value, names, _ = self.pipeline(node.expr, dot)
        if isinstance(value, dict):
            items: list[tuple[Any, Any]] = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, list):
            items = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            if value > MAX_STEPS:
                raise BudgetError(f"range {value}: over the template budget of {MAX_STEPS} steps")
            items = [(i, i) for i in range(value)]
        elif value is None:
            items = []
        else:
            raise TemplateError(f"range can't iterate over {go_string(value)}")
        if not items:
            self.run(node.orelse, dot, out)
            return
        for key, item in items:
            self.tick()
            self.scope.frames.append({})
            if len(names) == 1:
                self.scope.set(names[0], item, True)
            elif len(names) >= 2:
                self.scope.set(names[0], key, True)
                self.scope.set(names[1], item, True)
            self.run(node.body, item, out)
            self.scope.frames.pop()


def execute(text: str, inputs: dict[str, Any]) -> str:
    """Render ``text`` as flux-operator does (dot is nil; ``inputs`` returns the input set)."""
    out: list[str] = []
    _Eval(inputs).run(parse(text), None, out)
    return "".join(out)
