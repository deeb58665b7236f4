"""Which files a source artifact holds: ``.sourceignore`` and source-controller's default exclusions.

source-controller archives a GitRepository (or Bucket) without the files its ignore patterns match
(fluxcd/pkg ``sourceignore`` and ``artifact/storage.SourceIgnoreFilter``): the VCS patterns always;
the default extension, CI and extra patterns only when the repository brings no pattern of its own;
then every ``.sourceignore`` file, each scoped to its own folder, the deeper ones later (a later
pattern wins, ``!`` re-includes). Each file is matched by itself: a pattern that excludes a folder
excludes the files below it because it matches one of their path's parts.

Patterns follow Flux's gitignore port, whose names match as Go's ``filepath.Match``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

IGNORE_FILE = ".sourceignore"
EXCLUDE_VCS = ".git/,.gitignore,.gitmodules,.gitattributes"
EXCLUDE_EXT = "*.jpg,*.jpeg,*.gif,*.png,*.wmv,*.flv,*.tar.gz,*.zip"
EXCLUDE_CI = (
    ".github/,.circleci/,.travis.yml,.gitlab-ci.yml,appveyor.yml,.drone.yml,cloudbuild.yaml,"
    "codeship-services.yml,codeship-steps.yml"
)
EXCLUDE_EXTRA = "**/.goreleaser.yml,**/.sops.yaml,**/.flux.yaml"


@functools.lru_cache(maxsize=1024)
def _name_regex(pattern: str) -> re.Pattern[str] | None:
    """Go ``filepath.Match`` as a regular expression; None for a malformed pattern (never matches)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\":
            i += 1
            if i >= len(pattern):
                return None
            out.append(re.escape(pattern[i]))
        elif c == "[":
            end = i + 1
            if end < len(pattern) and pattern[end] == "^":
                end += 1
            if end < len(pattern) and pattern[end] == "]":
                return None  # Go rejects an empty class
            while end < len(pattern) and pattern[end] != "]":
                end += 2 if pattern[end] == "\\" else 1
            if end >= len(pattern):
                return None
            body = pattern[i + 1 : end]
            negate = body.startswith("^")
            if negate:
                body = body[1:]
            escaped = re.sub(r"([\[\]^])", r"\\\1", body.replace("\\\\", "\x00")).replace("\x00", "\\\\")
            out.append(f"[{'^' if negate else ''}{escaped}]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    try:
        return re.compile("".join(out) + r"\Z", re.DOTALL)
    except re.error:
        return None


# Folder and file names repeat across clusters (kustomization.yaml, platform, flux-system...): a
# scan of a 1,000-cluster fleet asks the same (pattern, name) pairs hundreds of times.
@functools.lru_cache(maxsize=1 << 16)
def _match(pattern: str, name: str) -> bool:
    regex = _name_regex(pattern)
    return regex is not None and regex.match(name) is not None


@dataclass(frozen=True)
class Pattern:
    domain: tuple[str, ...]  # the folder (as parts) whose .sourceignore it came from
    parts: tuple[str, ...]
    inclusion: bool
    dir_only: bool
    is_glob: bool

    @classmethod
    def parse(cls, text: str, domain: tuple[str, ...] = ()) -> Pattern:
        inclusion = text.startswith("!")
        if inclusion:
            text = text[1:]
        if not text.endswith("\\ "):
            text = text.rstrip(" ")
        dir_only = text.endswith("/")
        if dir_only:
            text = text[:-1]
        return cls(domain, tuple(text.split("/")), inclusion, dir_only, "/" in text)

    def match(self, path: tuple[str, ...], is_dir: bool) -> bool | None:
        """True: excluded, False: re-included, None: says nothing about ``path``."""
        if len(path) <= len(self.domain) or path[: len(self.domain)] != self.domain:
            return None
        rest = path[len(self.domain) :]
        hit = self._glob(rest, is_dir) if self.is_glob else self._simple(rest, is_dir)
        if not hit:
            return None
        return not self.inclusion

    def _simple(self, path: tuple[str, ...], is_dir: bool) -> bool:
        for i, name in enumerate(path):
            if not _match(self.parts[0], name):
                continue
            return not (self.dir_only and not is_dir and i == len(path) - 1)
        return False

    def _glob(self, path: tuple[str, ...], is_dir: bool) -> bool:
        matched = False
        traverse = False
        rest = list(path)
        for i, part in enumerate(self.parts):
            if part == "":
                traverse = False
                continue
            if part == "**":
                if i == len(self.parts) - 1:
                    break
                traverse = True
                continue
            if "**" in part or not rest:
                return False
            if traverse:
                traverse = False
                while rest:
                    name = rest.pop(0)
                    if _match(part, name):
                        matched = True
                        break
                    if not rest:
                        matched = False
            else:
                if not _match(part, rest[0]):
                    return False
                matched = True
                rest.pop(0)
        return not (matched and self.dir_only and not is_dir and not rest) and matched


def read_patterns(text: str, domain: tuple[str, ...] = ()) -> list[Pattern]:
    """The patterns of one ignore file: every line but blank ones and ``#`` comments."""
    return [
        Pattern.parse(line, domain) for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]


def _defaults(spec: str) -> list[Pattern]:
    return [Pattern.parse(p) for p in spec.split(",")]


class SourceIgnore:
    """The exclusions of one source artifact; ``user`` are the repository's own patterns in order."""

    def __init__(self, user: list[Pattern]) -> None:
        base = _defaults(EXCLUDE_VCS)
        if not user:
            base += _defaults(",".join((EXCLUDE_EXT, EXCLUDE_CI, EXCLUDE_EXTRA)))
        self.patterns = [*base, *user]

    def excluded(self, rel: str, is_dir: bool = False) -> bool:
        path = tuple(rel.split("/"))
        for pattern in reversed(self.patterns):
            verdict = pattern.match(path, is_dir)
            if verdict is not None:
                return verdict
        return False
