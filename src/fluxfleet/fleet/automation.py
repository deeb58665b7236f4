"""Image automation per app (``apps[].automation``): which environments follow the registry, how.

The environments listed here get their overlay's ``newTag`` written by Flux's image automation
controllers instead of by ``fluxfleet promote``; every later environment is promoted as usual.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from fluxfleet.fleet.base import Duration, Name, Strict


class TagFilter(Strict):
    """``filterTags``: only tags matching ``pattern`` count; ``extract`` picks what is compared."""

    pattern: str
    extract: str | None = None

    @field_validator("pattern")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"pattern {v!r} is not a regular expression: {exc}") from None
        return v


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
        if self.semver is not None and not self.semver.strip():
            raise ValueError("semver range must not be empty (e.g. '>=1.0.0')")
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
        if v is not None and (":" in v.rsplit("/", 1)[-1] or "@" in v or "/" not in v):
            raise ValueError(
                f"image {v!r} must be a repository with its registry and no tag (like ghcr.io/org/app)"
            )
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
