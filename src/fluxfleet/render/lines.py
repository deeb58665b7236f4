"""Where a rendered object's document starts in its source file, for reports that point at a line.

Each distinct file content is indexed once, when an object from it first needs a line; the index
lives as long as the render session. Plain builds know the document's position in
its file. For kustomize builds only the file is known (the origin annotation), so the document is
found by kind and name: a renamed object (namePrefix/nameSuffix) still matches when it is the only
document of its kind in the file, while objects that no document describes (generators) get none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fluxfleet import yamlio
from fluxfleet.errors import FleetError
from fluxfleet.render.files import FileTree


@dataclass(frozen=True)
class _Doc:
    kind: str
    name: str
    namespace: str
    line: int


def _doc(data: Any, line: int) -> _Doc:
    if not isinstance(data, dict):
        return _Doc("", "", "", line)
    meta = data.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    return _Doc(
        str(data.get("kind") or ""), str(meta.get("name") or ""), str(meta.get("namespace") or ""), line
    )


def _documents(tree: FileTree, rel: str, data: bytes) -> tuple[_Doc, ...]:
    """The documents of a file with their start lines.

    The documents are already parsed (once per content, by the tree); a scan of the text for
    document boundaries gives their start lines. Only when the scan disagrees with the parser (a
    construct the scan does not follow) is the file parsed again with marks.
    """
    try:
        text = data.decode("utf-8")
        parsed = tree.docs(rel)
    except (FleetError, UnicodeDecodeError, OSError):
        return ()
    starts = _scan_starts(text)
    if len(starts) == len(parsed):
        return tuple(_doc(d, line) for d, line in zip(parsed, starts, strict=True))
    try:
        marked = yamlio.load_all_with_marks(text, rel)
    except FleetError:
        return ()
    return tuple(_doc(d, marks.get((), (0, 0))[0]) for d, marks in marked)


def _scan_starts(text: str) -> list[int]:
    """First content line (1-based) of each non-empty document: skips blanks, comments, directives."""
    starts: list[int] = []
    current: int | None = None
    in_document = False  # inside a document that already has content
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(("---", "...")) and (len(line) == 3 or line[3] in " \t"):
            if current is not None:
                starts.append(current)
            current, in_document = None, False
            rest = line[3:].strip()
            if line.startswith("---") and rest and not rest.startswith("#"):
                current, in_document = number, True  # "--- {inline: document}"
            continue
        if in_document:
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or (line.startswith("%") and current is None):
            continue
        current, in_document = number, True
    if current is not None:
        starts.append(current)
    return starts


class LineIndex:
    """Start lines of the documents of source files, memoised by file content."""

    def __init__(self) -> None:
        self._docs: dict[str, tuple[_Doc, ...]] = {}  # sha256 of the content -> its documents

    def docs(self, tree: FileTree, rel: str) -> tuple[_Doc, ...]:
        try:
            data, digest = tree.read(rel)
        except OSError:
            return ()
        hit = self._docs.get(digest)
        if hit is None:
            hit = _documents(tree, rel, data)
            self._docs[digest] = hit
        return hit

    def at(self, tree: FileTree, rel: str, index: int) -> int | None:
        """The start line of the ``index``-th document of a file."""
        docs = self.docs(tree, rel)
        return docs[index].line if 0 <= index < len(docs) and docs[index].line else None

    def find(self, tree: FileTree, rel: str, body: dict[str, Any]) -> int | None:
        """The start line of the document a built object came from, or None when it is unclear."""
        docs = self.docs(tree, rel)
        if not docs:
            return None
        meta = body.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        kind, name = str(body.get("kind") or ""), str(meta.get("name") or "")
        namespace = str(meta.get("namespace") or "")
        same_kind = [d for d in docs if d.kind == kind]
        named = [d for d in same_kind if d.name == name]
        if len(named) > 1:
            named = [d for d in named if d.namespace == namespace] or named[:0]
        if len(named) == 1:
            return named[0].line or None
        if not named and len(same_kind) == 1:
            return same_kind[0].line or None
        return None
