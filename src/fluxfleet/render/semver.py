"""Chart versions and version constraints as source-controller resolves them.

source-controller uses Masterminds semver v3: constraints are ``||``-separated groups of
comparators (comma or space separated), with ``x``/``X``/``*`` wildcards, ``~``, ``^`` and hyphen
ranges. Pre-release versions only match when the constraint names a pre-release somewhere (since
Masterminds v3.4 one such comparator opens the whole range). Index entries that are not strict
``MAJOR.MINOR.PATCH`` versions are skipped, as ``fluxcd/pkg`` ``version.ParseVersion`` does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_VERSION = re.compile(
    r"^v?(?P<maj>0|[1-9]\d*)(?:\.(?P<min>0|[1-9]\d*))?(?:\.(?P<pat>0|[1-9]\d*))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+(?P<build>[0-9A-Za-z.-]+))?$"
)
_PART = re.compile(r"^(?:\d+|[xX*])$")


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple[str, ...] = ()
    build: str = ""

    def _pre_key(self) -> tuple[object, ...]:
        # Without a pre-release a version sorts above all its pre-releases.
        if not self.pre:
            return (1,)
        return (0, *((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre))

    def key(self) -> tuple[object, ...]:
        return (self.major, self.minor, self.patch, self._pre_key())

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            text += "-" + ".".join(self.pre)
        return text + (f"+{self.build}" if self.build else "")


def parse(text: str, *, strict: bool = False) -> Version | None:
    """A version, or None; ``strict`` requires all three numeric parts (index entries)."""
    m = _VERSION.match(text.strip())
    if m is None or (strict and (m["min"] is None or m["pat"] is None)):
        return None
    pre = tuple(m["pre"].split(".")) if m["pre"] else ()
    return Version(int(m["maj"]), int(m["min"] or 0), int(m["pat"] or 0), pre, m["build"] or "")


Check = Callable[[Version], bool]


@dataclass(frozen=True)
class Constraint:
    groups: tuple[tuple[Check, ...], ...]
    allows_pre: bool
    text: str

    def allows(self, version: Version) -> bool:
        if version.pre and not self.allows_pre:
            return False
        return any(all(check(version) for check in group) for group in self.groups)


class ConstraintError(ValueError):
    pass


def _bound(text: str) -> tuple[Version, int]:
    """The lowest version a partial version names, and how many parts were given (3 = exact)."""
    raw = text.strip().lstrip("v")
    main, _, rest = raw.partition("-")
    parts = main.split("+")[0].split(".")
    if not parts or len(parts) > 3 or not all(_PART.match(p) for p in parts):
        raise ConstraintError(f"invalid version {text!r} in constraint")
    given = 0
    numbers = []
    for part in parts:
        if part in ("x", "X", "*"):
            break
        numbers.append(int(part))
        given += 1
    while len(numbers) < 3:
        numbers.append(0)
    pre = tuple(rest.split("+")[0].split(".")) if rest and given == 3 else ()
    return Version(numbers[0], numbers[1], numbers[2], pre), given


def _next(v: Version, given: int) -> Version:
    """The first version above the range a partial version covers (``1.2`` → ``1.3.0``)."""
    if given <= 0:
        return Version(1 << 62, 0, 0)
    if given == 1:
        return Version(v.major + 1, 0, 0)
    return Version(v.major, v.minor + 1, 0)


def _cmp(a: Version, b: Version) -> int:
    ka, kb = a.key(), b.key()
    return (ka > kb) - (ka < kb)


_COMPARATOR = re.compile(r"^(=>|=<|>=|<=|!=|~>|[=<>~^])?\s*(.+)$")


def _comparator(text: str) -> list[Check]:
    m = _COMPARATOR.match(text.strip())
    if m is None:
        raise ConstraintError(f"invalid constraint {text!r}")
    op, ver = m.group(1) or "=", m.group(2)
    op = {"=>": ">=", "=<": "<=", "~>": "~"}.get(op, op)
    low, given = _bound(ver)
    high = _next(low, given)
    if op == "=":
        if given == 3:
            return [lambda v: _cmp(v, low) == 0]
        return [lambda v: _cmp(v, low) >= 0 and _cmp(v, high) < 0]
    if op == "!=":
        if given == 3:
            return [lambda v: _cmp(v, low) != 0]
        return [lambda v: _cmp(v, low) < 0 or _cmp(v, high) >= 0]
    if op == ">":
        return [lambda v: _cmp(v, low) > 0] if given == 3 else [lambda v: _cmp(v, high) >= 0]
    if op == ">=":
        return [lambda v: _cmp(v, low) >= 0]
    if op == "<":
        return [lambda v: _cmp(v, low) < 0]
    if op == "<=":
        return [lambda v: _cmp(v, low) <= 0] if given == 3 else [lambda v: _cmp(v, high) < 0]
    if op == "~":
        top = Version(low.major + 1, 0, 0) if given == 1 else Version(low.major, low.minor + 1, 0)
        return [lambda v: _cmp(v, low) >= 0 and _cmp(v, top) < 0]
    # ^: the first non-zero part given is fixed
    if low.major > 0 or given == 1:
        top = Version(low.major + 1, 0, 0)
    elif low.minor > 0 or given == 2:
        top = Version(0, low.minor + 1, 0)
    else:
        top = Version(0, 0, low.patch + 1)
    return [lambda v: _cmp(v, low) >= 0 and _cmp(v, top) < 0]


_HYPHEN = re.compile(r"^\s*(\S+)\s+-\s+(\S+)\s*$")


def constraint(text: str) -> Constraint:
    """Parse a Masterminds constraint; raises :class:`ConstraintError`."""
    groups: list[tuple[Check, ...]] = []
    for raw_group in (text.strip() or "*").split("||"):
        checks: list[Check] = []
        hyphen = _HYPHEN.match(raw_group)
        if hyphen:
            items = [f">={hyphen.group(1)}", f"<={hyphen.group(2)}"]
        else:
            spaced = re.sub(r"(=>|=<|>=|<=|!=|~>|[=<>~^])\s+", r"\1", raw_group)
            items = [p for p in re.split(r"[,\s]+", spaced) if p]
        if not items:
            raise ConstraintError(f"invalid constraint {text!r}")
        for item in items:
            checks.extend(_comparator(item))
        groups.append(tuple(checks))
    allows_pre = bool(re.search(r"\d-[0-9A-Za-z]", text))
    return Constraint(tuple(groups), allows_pre, text)


def highest(constraint_text: str, candidates: Iterable[str], *, strict: bool = True) -> str | None:
    """The highest candidate the constraint allows (an exact string match wins, as in sc)."""
    names = list(candidates)
    if constraint_text in names:
        return constraint_text
    wanted = constraint(constraint_text)
    best: tuple[tuple[object, ...], str] | None = None
    for name in names:
        version = parse(name, strict=strict)
        if version is None or not wanted.allows(version):
            continue
        if best is None or version.key() > best[0]:
            best = (version.key(), name)
    return best[1] if best else None
