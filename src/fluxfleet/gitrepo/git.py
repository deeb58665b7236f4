"""A thin handle on one git work tree: every git call of fluxfleet goes through :class:`Git`.

Commands run with a fixed locale and without prompts so their output can be parsed and a
missing credential fails fast instead of hanging. Paths given to git are relative to the fleet
repository root, which may be a subfolder of the git work tree (``prefix``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fluxfleet import proc
from fluxfleet.errors import FleetError

_ENV_OVERRIDES = {
    "LC_ALL": "C",
    "LANG": "C",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_PAGER": "cat",
    "GIT_OPTIONAL_LOCKS": "0",
}


def git_binary() -> str:
    exe = proc.find_tool("git")
    if exe is None:
        raise FleetError("git is not installed", hint="fluxfleet keeps the fleet and its history in git")
    return exe


@dataclass
class Git:
    """Run git in ``root`` (the fleet repository root)."""

    root: Path
    exe: str = field(default_factory=git_binary)
    timeout: float = 120.0
    _toplevel: Path | None = None

    def __post_init__(self) -> None:
        self.root = self.root.resolve()

    def run(
        self,
        *args: str,
        input: bytes | None = None,
        ok_codes: Sequence[int] = (0,),
        timeout: float | None = None,
        env: dict[str, str] | None = None,
    ) -> proc.Result:
        full_env = {**os.environ, **_ENV_OVERRIDES, **(env or {})}
        return proc.run(
            [self.exe, "-c", "core.quotepath=false", *args],
            cwd=self.root,
            input=input,
            env=full_env,
            timeout=timeout or self.timeout,
            ok_codes=ok_codes,
            what=f"git {args[0]}" if args else "git",
        )

    def out(self, *args: str, input: bytes | None = None) -> str:
        return self.run(*args, input=input).text.strip()

    @property
    def toplevel(self) -> Path:
        if self._toplevel is None:
            res = self.run("rev-parse", "--show-toplevel", ok_codes=(0, 128))
            if res.returncode != 0:
                raise FleetError(
                    f"{self.root} is not inside a git repository",
                    hint="fluxfleet records promotions as git commits; run `git init` and commit the fleet",
                )
            self._toplevel = Path(res.text.strip()).resolve()
        return self._toplevel

    @property
    def prefix(self) -> str:
        """The fleet root relative to the work tree top ("" when they are the same)."""
        rel = self.root.relative_to(self.toplevel).as_posix()
        return "" if rel == "." else rel + "/"

    def full_path(self, rel: str) -> str:
        """A fleet-relative path as git names it (relative to the work tree top)."""
        return self.prefix + rel

    def head(self) -> str | None:
        res = self.run("rev-parse", "--verify", "-q", "HEAD^{commit}", ok_codes=(0, 1, 128))
        return res.text.strip() if res.returncode == 0 else None

    def require_head(self) -> str:
        sha = self.head()
        if sha is None:
            raise FleetError(
                "the repository has no commits yet",
                hint="commit the fleet first (git add -A && git commit -m 'fleet')",
            )
        return sha

    def branch(self) -> str:
        res = self.run("symbolic-ref", "-q", "--short", "HEAD", ok_codes=(0, 1, 128))
        if res.returncode != 0:
            raise FleetError("HEAD is detached", hint="check out the branch the fleet is promoted on")
        return res.text.strip()

    def config(self, key: str) -> str | None:
        res = self.run("config", "--get", key, ok_codes=(0, 1))
        value = res.text.strip()
        return value or None

    def identity(self) -> str | None:
        """``Name <email>`` from git config, as git would record it."""
        name, email = self.config("user.name"), self.config("user.email")
        if not name:
            return None
        return f"{name} <{email}>" if email else name
