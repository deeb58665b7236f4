"""The one exception type for user errors.

Anything the user can fix (bad fleet.yaml, a missing file, an unknown cluster) raises
:class:`FleetError`. It carries where the problem is and a hint; the CLI prints it and exits 2.
Bugs stay ordinary exceptions so they are never mistaken for user errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Location:
    """Where in the user's input a problem sits. Every part is optional."""

    file: str | None = None
    line: int | None = None
    column: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts: list[str] = []
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            parts.append(where)
        if self.field:
            parts.append(f"field `{self.field}`")
        return ", ".join(parts)


class FleetError(Exception):
    """A problem in the user's input or environment, reported with location and hint."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = Location(str(file) if file is not None else None, line, column, field)
        self.hint = hint

    def __str__(self) -> str:
        where = str(self.location)
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class FleetErrors(FleetError):
    """Several user errors found in one pass, so the user can fix them all at once."""

    def __init__(self, errors: list[FleetError]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} problems found")

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


def did_you_mean(word: str, choices: list[str] | set[str] | tuple[str, ...]) -> str | None:
    """A hint naming the closest valid choice, or None when nothing is close."""
    import difflib

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None
