"""Image automation per app (``apps[].automation``): which environments follow the registry, how.

The environments listed here get their overlay's ``newTag`` written by Flux's image automation
controllers instead of by ``fluxfleet promote``; every later environment is promoted as usual.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from fluxfleet.fleet.base import Duration, Name, Strict
from fluxfleet.fleet.names import image_reference_error

# Python syntax Go's RE2 (which image-reflector-controller compiles these with) rejects
_NOT_RE2 = re.compile(r"\(\?(?:<?[=!]|>|P=|\()|\\[1-9]|[*+?}]\+")
# Go's regexp.Expand: $name, ${name}, $1; $$ is a literal $
_EXPAND_REF = re.compile(r"\$(?:\$|\{(\w+)\}|(\w+))")
# Masterminds/semver v3 constraints, which Flux's semver policy parses
_SEMVER_VERSION = r"v?[0-9xX*]+(?:\.[0-9xX*]+)?(?:\.[0-9xX*]+)?(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
_SEMVER_ONE = (
    rf"(?:{_SEMVER_VERSION}\s+-\s+{_SEMVER_VERSION}|(?:!=|>=|=>|<=|=<|~>|[=><~^])?\s*{_SEMVER_VERSION})"
)
_SEMVER_AND = re.compile(rf"^\s*{_SEMVER_ONE}(?:\s*,?\s*{_SEMVER_ONE})*\s*$")


def go_regex_error(v: str, what: str) -> str | None:
    if len(v) > 1024:
        return f"{what} is longer than 1024 characters"
    try:
        re.compile(v)
    except re.error as exc:
        return f"{what} {v!r} is not a regular expression: {exc}"
    if _NOT_RE2.search(v):
        return f"{what} {v!r} uses syntax Go's regexp (RE2) lacks: lookaround, backreferences, atomic or possessive groups"
    return None


class TagFilter(Strict):
    """``filterTags``: only tags matching ``pattern`` count; ``extract`` picks what is compared."""

    pattern: str
    extract: str | None = None

    @field_validator("pattern")
    @classmethod
    def _regex(cls, v: str) -> str:
        err = go_regex_error(v, "pattern")
        if err:
            raise ValueError(err)
        return v

    @model_validator(mode="after")
    def _groups(self) -> TagFilter:
        if self.extract is None:
            return self
        compiled = re.compile(self.pattern)
        for m in _EXPAND_REF.finditer(self.extract):
            ref = m.group(1) or m.group(2)
            if ref is None:
                continue
            known = int(ref) <= compiled.groups if ref.isdigit() else ref in compiled.groupindex
            if not known:
                # Go expands an unknown group to "", so every tag would compare equal
                raise ValueError(
                    f"extract {self.extract!r} names group {ref!r}, which pattern does not define"
                )
        return self


class TagPolicy(Strict):
    """Exactly one of: a semver range, or alphabetical/numerical ordering (asc|desc)."""

    semver: str | None = None
    alphabetical: Literal["asc", "desc"] | None = None
    numerical: Literal["asc", "desc"] | None = None

    @model_validator(mode="after")
    def _one(self) -> TagPolicy:
        chosen = [k for k in ("semver", "alphabetical", "numerical") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError("set exactly one of semver, alphabetical or numerical")
        if self.semver is not None and not all(_SEMVER_AND.match(part) for part in self.semver.split("||")):
            raise ValueError(f"{self.semver!r} is not a semver range (like '>=1.0.0' or '~1.2')")
        return self

    def as_spec(self) -> dict[str, dict[str, str]]:
        if self.semver is not None:
            return {"semver": {"range": self.semver}}
        if self.alphabetical is not None:
            return {"alphabetical": {"order": self.alphabetical}}
        return {"numerical": {"order": str(self.numerical)}}


class Author(Strict):
    name: str = "fluxcdbot"
    email: str = "fluxcdbot@users.noreply.github.com"

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        if "@" not in v or any(c.isspace() for c in v):
            raise ValueError(f"{v!r} is not an email address")
        return v


class ImageAutomation(Strict):
    """``environments`` empty means the first environment only (the architecture's default)."""

    environments: tuple[Name, ...] = ()
    image: str | None = None  # default: the app's first image
    secret_ref: Name | None = Field(default=None, alias="secretRef")
    exclusion_list: tuple[str, ...] | None = Field(default=None, alias="exclusionList")
    policy: TagPolicy
    filter_tags: TagFilter | None = Field(default=None, alias="filterTags")
    interval: Duration = "5m"
    # a branch of its own makes the automation's commits a pull request instead of landing directly
    push_branch: str | None = Field(default=None, alias="pushBranch")
    author: Author = Field(default_factory=Author)

    @field_validator("image")
    @classmethod
    def _image(cls, v: str | None) -> str | None:
        if v is None:
            return v
        err = image_reference_error(v, tagged=False)
        if err is None and "/" not in v:
            err = f"image {v!r} must be a repository with its registry and no tag (like ghcr.io/org/app)"
        if err:
            raise ValueError(err)
        return v

    @field_validator("exclusion_list")
    @classmethod
    def _exclusions(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for pattern in v or ():
            err = go_regex_error(pattern, "exclusionList entry")
            if err:
                raise ValueError(err)
        return v

    @field_validator("push_branch")
    @classmethod
    def _branch(cls, v: str | None) -> str | None:
        if v is not None and (not v or v.startswith("-") or ".." in v or any(c in v for c in " ~^:?*[\\")):
            raise ValueError(f"{v!r} is not a valid git branch name")
        return v


def automated_environments(auto: ImageAutomation | None, env_names: list[str]) -> tuple[str, ...]:
    """The environments whose overlay the automation writes, in promotion order."""
    if auto is None or not env_names:
        return ()
    chosen = set(auto.environments) if auto.environments else {env_names[0]}
    return tuple(e for e in env_names if e in chosen)
