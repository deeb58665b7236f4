"""The post-build substitution engine of Flux (fluxcd/pkg ``envsubst``), reimplemented.

A text is parsed once into literal text and ``${...}`` expressions, then evaluated against a
variable map. The rules are Flux's, not bash's: a bare ``$var`` is never substituted, every ``$$``
outside an expression collapses to ``$``, every default operator (``:=``, ``:-``, ``=``, ``:+``,
``:?``) means "use this when unset or empty", ``-`` without a colon is a parse error, and in strict
mode an unset variable without a default fails. A parse error anywhere fails the whole text, before
anything is substituted. ``keep_unknown`` leaves expressions whose variable is not in the map exactly
as written: the renderer uses it when a variable source exists only in the live cluster.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


class EnvsubstError(Exception):
    """A parse error or, in strict mode, an unset variable. The message is Flux's."""


DEFAULT_OPS = (":=", ":-", ":+", ":?", "=")
# Longest first, so "##" wins over "#".
_TRANSFORM_OPS = ("##", "#", "%%", "%", "//", "/#", "/%", "/", "^^", "^", ",,", ",")


@dataclass
class Text:
    value: str


@dataclass
class Expr:
    name: str
    op: str  # "" plain, "len", one of DEFAULT_OPS, one of _TRANSFORM_OPS, or ":" (substring)
    args: list[list[Text | Expr]] = field(default_factory=list)
    source: str = ""  # the expression exactly as written


Node = Text | Expr


def _is_name_char(ch: str) -> bool:
    return ch == "_" or ch.isalnum()


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def parse_top(self) -> list[Node]:
        out: list[Node] = []
        buf: list[str] = []
        s, n = self.s, len(self.s)
        while self.i < n:
            ch = s[self.i]
            if ch != "$":
                j = s.find("$", self.i)
                j = n if j < 0 else j
                buf.append(s[self.i : j])
                self.i = j
                continue
            nxt = s[self.i + 1] if self.i + 1 < n else ""
            if nxt == "$":  # "$$" -> "$", everywhere outside an expression
                buf.append("$")
                self.i += 2
            elif nxt == "{":
                if buf:
                    out.append(Text("".join(buf)))
                    buf = []
                out.append(self.parse_expr())
            else:  # bare "$name", "$(...)", a lone "$": literal
                buf.append("$")
                self.i += 1
        if buf:
            out.append(Text("".join(buf)))
        return out

    def parse_expr(self) -> Expr:
        start = self.i
        s, n = self.s, len(self.s)
        self.i += 2  # "${"
        op = ""
        if self.i < n and s[self.i] == "#":
            op = "len"
            self.i += 1
        j = self.i
        while j < n and _is_name_char(s[j]):
            j += 1
        name = s[self.i : j]
        self.i = j
        if not name:
            raise EnvsubstError("unable to parse variable name")
        if self.i >= n:
            raise EnvsubstError("missing closing brace")
        ch = s[self.i]
        if ch == "}":
            self.i += 1
            return Expr(name, op, [], s[start : self.i])
        if op == "len":
            raise EnvsubstError("missing closing brace")
        for candidate in DEFAULT_OPS:
            if s.startswith(candidate, self.i):
                op = candidate
                break
        else:
            for candidate in _TRANSFORM_OPS:
                if s.startswith(candidate, self.i):
                    op = candidate
                    break
            else:
                if ch != ":":
                    raise EnvsubstError("missing closing brace")
                op = ":"  # substring: ${var:offset} or ${var:offset:length}
        self.i += len(op)
        sep = ":" if op == ":" else ("/" if op in ("/", "//", "/#", "/%") else "")
        args = self.parse_args(sep)
        return Expr(name, op, args, s[start : self.i])

    def parse_args(self, sep: str) -> list[list[Node]]:
        s, n = self.s, len(self.s)
        args: list[list[Node]] = []
        cur: list[Node] = []
        buf: list[str] = []

        def flush() -> None:
            if buf:
                cur.append(Text("".join(buf)))
                buf.clear()

        while self.i < n:
            ch = s[self.i]
            if ch == "}":
                self.i += 1
                flush()
                args.append(cur)
                return args
            if sep and ch == sep:
                flush()
                args.append(cur)
                cur = []
                self.i += 1
                continue
            if ch == "$" and self.i + 1 < n and s[self.i + 1] == "{":
                flush()
                cur.append(self.parse_expr())
                continue
            buf.append(ch)  # inside arguments "$$" is not an escape
            self.i += 1
        raise EnvsubstError("missing closing brace")


def parse(text: str) -> list[Node]:
    """Parse ``text``; raises :class:`EnvsubstError` on the first syntax error."""
    if "$" not in text:
        return [Text(text)]
    return _Parser(text).parse_top()


def _glob_regex(pattern: str) -> re.Pattern[str] | None:
    """Go's ``path.Match`` syntax as a regex; None for a malformed pattern (then nothing matches)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            i += 1
            if i >= n:
                return None
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            j = pattern.find("]", i + 1)
            if j < 0:
                return None
            body = pattern[i + 1 : j]
            neg = body.startswith("^")
            body = body[1:] if neg else body
            if not body:
                return None
            out.append("[" + ("^" if neg else "") + body.replace("\\", "\\\\") + "]")
            i = j
        else:
            out.append(re.escape(ch))
        i += 1
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error:
        return None


def _trim_prefix(s: str, pattern: str, longest: bool) -> str:
    rx = _glob_regex(pattern)
    if rx is None:
        return s
    # An empty match removes nothing, so only non-empty prefixes are tried.
    ends = range(len(s), 0, -1) if longest else range(1, len(s) + 1)
    for end in ends:
        if rx.fullmatch(s[:end]):
            return s[end:]
    return s


def _trim_suffix(s: str, pattern: str, longest: bool) -> str:
    # fluxcd/pkg matches suffixes on the reversed string with the reversed pattern.
    return _trim_prefix(s[::-1], pattern[::-1], longest)[::-1]


def _substring(s: str, args: list[str]) -> str:
    try:
        pos = int(args[0].strip())
    except (ValueError, IndexError):
        return s
    if pos < 0:
        pos = max(len(s) + pos, 0)
    if pos > len(s):
        return ""
    if len(args) < 2:
        return s[pos:]
    try:
        length = int(args[1].strip())
    except ValueError:
        return s[pos:]
    if length < 0:
        end = len(s) + length
        return s[pos:end] if end > pos else ""
    return s[pos : pos + length]


def _replace(s: str, op: str, args: list[str]) -> str:
    if len(args) != 2:
        return s
    old, new = args
    if op == "/":
        return s.replace(old, new, 1)
    if op == "//":
        return s.replace(old, new)
    if op == "/#":
        return new + s[len(old) :] if s.startswith(old) else s
    return s[: len(s) - len(old)] + new if s.endswith(old) else s  # "/%"


_TRANSFORMS: dict[str, Callable[[str, list[str]], str]] = {
    "#": lambda s, a: _trim_prefix(s, a[0] if a else "", False),
    "##": lambda s, a: _trim_prefix(s, a[0] if a else "", True),
    "%": lambda s, a: _trim_suffix(s, a[0] if a else "", False),
    "%%": lambda s, a: _trim_suffix(s, a[0] if a else "", True),
    "^^": lambda s, a: s.upper(),
    "^": lambda s, a: s[:1].upper() + s[1:],
    ",,": lambda s, a: s.lower(),
    ",": lambda s, a: s[:1].lower() + s[1:],
    "len": lambda s, a: str(len(s.encode("utf-8"))),
    ":": _substring,
}


@dataclass(frozen=True)
class Options:
    strict: bool = True
    keep_unknown: bool = False  # leave ``${...}`` of unknown variables exactly as written


def _unset_in_strict(name: str) -> EnvsubstError:
    return EnvsubstError(f'variable not set (strict mode): "{name}"')


def evaluate(nodes: list[Node], env: Mapping[str, str], options: Options = Options()) -> str:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, Text):
            out.append(node.value)
        else:
            out.append(_eval_expr(node, env, options))
    return "".join(out)


def _eval_expr(expr: Expr, env: Mapping[str, str], options: Options) -> str:
    present = expr.name in env
    if not present and options.keep_unknown:
        return expr.source
    value = env.get(expr.name, "")
    if expr.op in DEFAULT_OPS:
        if value:
            return value
        return evaluate(expr.args[0] if expr.args else [], env, options)
    if not present and options.strict:
        raise _unset_in_strict(expr.name)
    if expr.op == "":
        return value
    args = [evaluate(a, env, options) for a in expr.args]
    if expr.op in ("/", "//", "/#", "/%"):
        return _replace(value, expr.op, args)
    return _TRANSFORMS[expr.op](value, args)


def substitute(text: str, env: Mapping[str, str], options: Options = Options()) -> str:
    """Substitute ``text`` as Flux's post-build step does (raises :class:`EnvsubstError`)."""
    return evaluate(parse(text), env, options)
