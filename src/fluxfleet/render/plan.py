"""Plan one kustomize build: the edited top kustomization and every file the build can read.

The inputs are found conservatively: every file in each kustomization's own directory, plus every
string value of a kustomization that names an existing file or directory (a directory holding a
kustomization is followed recursively; any other directory is taken whole). The build later runs in
a scratch root containing exactly these files, so a missed input makes the build fail loudly
instead of serving a stale cache entry, and nothing outside the source root can be read.

A build is *plain* when every kustomization involved only lists local resources (no transformers,
generators or Flux edits): its output is then the resources' documents in order, which fluxfleet
assembles in-process instead of starting kustomize.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fluxfleet import yamlio
from fluxfleet.errors import FleetError
from fluxfleet.render import jsonpatch, kustfile, pathfields
from fluxfleet.render.files import FileTree, join
from fluxfleet.render.kustfile import KUSTOMIZATION_FILES, SpecEdits
from fluxfleet.render.pathfields import Kind

# ``patches`` only in the inline JSON 6902 shape render/jsonpatch.py applies (what generate writes).
_PLAIN_KEYS = frozenset({"apiVersion", "kind", "resources", "patches"})
_LOCAL_CONFIG = "config.kubernetes.io/local-config"


class PlanError(Exception):
    def __init__(
        self, message: str, file: str | None = None, line: int | None = None, column: int | None = None
    ) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.column = column

    @classmethod
    def wrap(cls, message: str, exc: FleetError, file: str) -> PlanError:
        """A planning error caused by a YAML problem, keeping the position yamlio found."""
        where = exc.location
        same_file = where.file in (None, file)
        return cls(message, file, where.line if same_file else None, where.column if same_file else None)


@dataclass
class BuildPlan:
    path: str  # root-relative build directory
    kustomization_file: str  # root-relative name the edited kustomization is written to
    kustomization: dict[str, Any]  # as Flux writes it (before fluxfleet's engine options)
    files: dict[str, str] = field(default_factory=dict)  # input file -> sha256
    plain: bool = True
    remote: list[str] = field(default_factory=list)
    # Every file named stays inside the kustomization that names it: kustomize's own
    # LoadRestrictionsRootOnly then gives the same result as Flux's LoadRestrictionsNone.
    root_only: bool = True

    def content_key(self, engine_id: str) -> str:
        payload = json.dumps(
            [engine_id, self.path, self.kustomization_file, self.kustomization, sorted(self.files.items())],
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()


def find_kustomization_file(tree: FileTree, directory: str) -> str | None:
    for name in KUSTOMIZATION_FILES:
        rel = f"{directory}/{name}" if directory else name
        if tree.is_file(rel):
            return rel
    return None


def _load_kustomization(tree: FileTree, rel: str) -> dict[str, Any]:
    try:
        docs = tree.docs(rel)
    except FleetError as exc:
        raise PlanError.wrap(f"invalid kustomization: {exc.message}", exc, rel) from None
    if not docs:
        return {}
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise PlanError("invalid kustomization: expected one YAML mapping", rel)
    odd = _not_json(docs[0], ())
    if odd is not None:
        at, problem = odd
        line, column = _position_of(tree, rel, at)
        raise PlanError(f"invalid kustomization: {problem}", rel, line, column)
    return docs[0]


_YAML_SUFFIXES = (".yaml", ".yml", ".json")
# Deeper flow nesting than any Kubernetes object needs; deeper is an attack on the parsers.
MAX_FLOW_DEPTH = 100
_FLOW = re.compile(rb"[\[\]{}]")
_ANCHOR = re.compile(rb"(?:^|[\s\[{,:])&[^\s\[\]{},]", re.MULTILINE)
_ALIAS = re.compile(rb"(?:^|[\s\[{,:])\*[^\s\[\]{},]", re.MULTILINE)


def check_input(data: bytes, rel: str) -> None:
    """Refuse a YAML input that would exhaust a parser: an alias bomb or absurd nesting.

    Runs on every collected YAML file before any build, so kustomize never sees one (the size limit
    is :class:`FileTree`'s). Other parse errors are left for kustomize to word.
    """
    if data.count(b"[") + data.count(b"{") > MAX_FLOW_DEPTH:
        depth = deepest = 0
        for match in _FLOW.finditer(data):
            depth = depth + 1 if match.group() in (b"[", b"{") else max(0, depth - 1)
            deepest = max(deepest, depth)
        if deepest > MAX_FLOW_DEPTH:
            raise PlanError(f"YAML nested {deepest} levels deep, over the limit of {MAX_FLOW_DEPTH}", rel)
    if not (_ANCHOR.search(data) and _ALIAS.search(data)):
        return  # no anchor and alias: nothing can expand (an ``&`` in a URL is not an anchor)
    try:
        yamlio.check_aliases(data.decode("utf-8", errors="replace"), rel)
    except FleetError as exc:
        if "alias" in exc.message:
            raise PlanError.wrap(exc.message, exc, rel) from None
    except RecursionError:
        raise PlanError(f"YAML nested too deeply to read (over {MAX_FLOW_DEPTH} levels)", rel) from None


def _not_json(node: Any, at: tuple[str | int, ...]) -> tuple[tuple[str | int, ...], str] | None:
    """Where the kustomization holds what JSON cannot (kustomize reads it as JSON): key path, problem."""
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                return (
                    *at,
                    str(key),
                ), f"mapping keys must be strings, found {type(key).__name__} key {key!r}"
            found = _not_json(value, (*at, key))
            if found is not None:
                return found
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found = _not_json(value, (*at, i))
            if found is not None:
                return found
    elif not (node is None or isinstance(node, str | int | float | bool)):
        return at, f"a {type(node).__name__} (such as !!set) is not a JSON value"
    return None


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node] if "\n" not in node and node.strip() else []
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


class _Collector:
    """Walks kustomizations through :mod:`pathfields` and collects (and confines) what they name."""

    def __init__(self, tree: FileTree, plan: BuildPlan) -> None:
        self.tree = tree
        self.plan = plan
        self.seen_dirs: set[str] = set()
        self.checked: set[str] = set()

    def add_file(self, rel: str, parsed: bool = True) -> None:
        if rel not in self.plan.files:
            try:
                digest = self.tree.read(rel)[1]
            except OSError as exc:
                raise PlanError(str(exc), rel) from None
            self.plan.files[rel] = digest
        if parsed and rel not in self.checked:
            self.checked.add(rel)
            data, digest = self.tree.read(rel)
            # Once per content: parsed already (with the same bounds), or checked for another plan.
            if digest not in self.tree.parsed and digest not in self.tree.checked:
                check_input(data, rel)
                self.tree.checked.add(digest)

    def add_dir_files(self, directory: str) -> None:
        for name, is_dir in self.tree.listdir(directory):
            if not is_dir:
                self.add_file(f"{directory}/{name}" if directory else name, name.endswith(_YAML_SUFFIXES))

    def add_tree(self, directory: str, parsed: bool = True) -> None:
        for rel in self.tree.walk_files(directory):
            self.add_file(rel, parsed and rel.endswith(_YAML_SUFFIXES))

    def follow(self, directory: str, kustomization: Mapping[str, Any], top: bool, file: str | None) -> None:
        """Record the inputs of the kustomization ``file`` (None: generated) found in ``directory``."""
        if directory in self.seen_dirs and not top:
            return
        self.seen_dirs.add(directory)
        self.add_dir_files(directory)
        if (
            set(kustomization) - _PLAIN_KEYS
            or kustomization.get("kind", "Kustomization") != "Kustomization"
            or ("patches" in kustomization and jsonpatch.simple_patches(kustomization["patches"]) is None)
        ):
            self.plan.plain = False
        resources = kustomization.get("resources") or []
        if not isinstance(resources, list):
            raise PlanError(
                "invalid kustomization: resources must be a list", file, *_position(self.tree, file)
            )
        for ref in pathfields.kustomization_refs(kustomization):
            self.collect(directory, ref, file)

    def collect(
        self, directory: str, ref: pathfields.PathRef, file: str | None, inline: bool = False
    ) -> None:
        """Collect what ``ref`` names, or raise when it leaves the source root or is not a plain file."""
        value, kind = ref.value, ref.kind
        listed_resource = ref.field[:1] == ("resources",)
        if kind in (Kind.INLINE_OR_FILE, Kind.PLUGIN) and pathfields.is_inline(value):
            if kind is Kind.PLUGIN:
                self.plugin_docs(directory, _inline_docs(value), file)
            return
        if kustfile.is_remote(value):
            self.plan.remote.append(value)
            return

        def refuse(message: str) -> PlanError:
            line, column = (None, None) if inline else _position(self.tree, file, ref.field)
            return PlanError(f"{ref.field_name}: {message}", file, line, column)

        if "\x00" in value:
            raise refuse("a path may not contain a NUL character")
        if value.startswith("/"):
            raise refuse(f"absolute path {value!r} is outside the source root")
        rel = join(directory, value)
        if rel is None:
            raise refuse(f"path {value!r} escapes the source root")
        if self.tree.is_file(rel):
            self.add_file(rel, kind not in (Kind.KV_FILE, Kind.DATA_FILE))
            if kind is Kind.RESOURCE and listed_resource and not self._plain_resource_file(rel):
                self.plan.plain = False
            if kind is Kind.PLUGIN:
                self.plugin_docs(directory, _file_docs(self.tree, rel), rel)
            if not _below(rel, directory):
                self.plan.root_only = False
        elif self.tree.is_dir(rel):
            if rel == directory:
                return  # kustomize reports the cycle
            sub = find_kustomization_file(self.tree, rel) if kind in (Kind.RESOURCE, Kind.PLUGIN) else None
            if sub is None:
                self.add_tree(rel, kind not in (Kind.KV_FILE, Kind.DATA_FILE, Kind.DIR))
                if listed_resource:
                    self.plan.plain = False
                if not _below(rel, directory):
                    self.plan.root_only = False
            else:
                self.follow(rel, _load_kustomization(self.tree, sub), top=False, file=sub)
        else:
            special = self.tree.special(rel)
            if special is not None:
                raise refuse(f"{value!r} is {special}; only regular files are read")
            if listed_resource:
                self.plan.plain = False  # let kustomize word the error

    def plugin_docs(self, directory: str, docs: list[Any], file: str | None) -> None:
        """The paths a builtin plugin's configuration names, resolved against its kustomization."""
        for doc in docs:
            if isinstance(doc, dict):
                for ref in pathfields.plugin_refs(doc):
                    self.collect(directory, ref, file, inline=True)

    def _plain_resource_file(self, rel: str) -> bool:
        try:
            docs = self.tree.docs(rel)
        except FleetError:
            return False
        for doc in docs:
            if not isinstance(doc, dict) or not doc.get("kind") or doc.get("kind") == "List":
                return False
            meta = doc.get("metadata")
            if not isinstance(meta, dict) or not meta.get("name"):
                return False
            if _LOCAL_CONFIG in (meta.get("annotations") or {}):
                return False
        return True


def _below(rel: str, directory: str) -> bool:
    return not directory or rel == directory or rel.startswith(directory + "/")


def _inline_docs(text: str) -> list[Any]:
    try:
        return yamlio.load_all(text, "<inline>")
    except FleetError:
        return []  # kustomize words the error


def _file_docs(tree: FileTree, rel: str) -> list[Any]:
    try:
        return tree.docs(rel)
    except FleetError:
        return []  # kustomize words the error


def _position_of(
    tree: FileTree, file: str | None, at: tuple[str | int, ...]
) -> tuple[int | None, int | None]:
    """Line and column of a key path (mapping keys named as strings, list items by index)."""
    return _position(tree, file, tuple(p if isinstance(p, int) else str(p) for p in at))


def _position(
    tree: FileTree, file: str | None, key: tuple[str | int, ...] | str = "resources"
) -> tuple[int | None, int | None]:
    """Line and column of a key path in a kustomization file (an error path only: parses again).

    The nearest enclosing key that is in the file answers for one Flux's edit added.
    """
    if file is None:
        return None, None
    try:
        docs = yamlio.load_all_with_marks(tree.read(file)[0].decode("utf-8"), file)
    except (FleetError, OSError, UnicodeDecodeError):
        return None, None
    if not docs:
        return None, None
    path = (key,) if isinstance(key, str) else key
    for end in range(len(path), 0, -1):
        mark = docs[0][1].get(path[:end])
        if mark is not None:
            return mark
    return None, None


def _generated_resources(tree: FileTree, path: str) -> list[str]:
    """§3.2: walk lexically; a sub-directory with a kustomization is a resource, not descended."""
    out: list[str] = []

    def walk(directory: str) -> None:
        for name, is_dir in tree.listdir(directory):
            rel = f"{directory}/{name}" if directory else name
            if is_dir:
                if find_kustomization_file(tree, rel) is not None:
                    out.append(rel)
                else:
                    walk(rel)
            elif name.endswith((".yaml", ".yml")):
                try:
                    docs = tree.docs(rel)
                except FleetError as exc:
                    raise PlanError.wrap(
                        f"failed to decode Kubernetes YAML from {rel}: {exc.message}", exc, rel
                    ) from None
                for doc in docs:
                    if not isinstance(doc, dict) or not doc.get("kind"):
                        raise PlanError(
                            f"failed to decode Kubernetes YAML from {rel}: missing Resource metadata", rel
                        )
                out.append(rel)

    walk(path)
    return ["./" + posixpath.relpath(r, path or ".") for r in out]


def plan_build(tree: FileTree, path: str, edits: SpecEdits) -> BuildPlan:
    """Everything needed to build ``path`` as Flux would (raises :class:`PlanError`)."""
    if not tree.is_dir(path):
        raise PlanError(f"kustomization path not found: {path or '.'}")
    existing = find_kustomization_file(tree, path)
    if existing is not None:
        original = _load_kustomization(tree, existing)
        kfile = existing
    else:
        original = kustfile.generated(_generated_resources(tree, path))
        kfile = f"{path}/kustomization.yaml" if path else "kustomization.yaml"

    def component_exists(comp: str) -> bool:
        rel = join(path, comp)
        return rel is not None and tree.exists(rel)

    try:
        edited = kustfile.apply_edits(
            original, edits, existing_file=existing is not None, component_exists=component_exists
        )
    except kustfile.EditError as exc:
        raise PlanError(str(exc), existing) from None
    plan = BuildPlan(path=path, kustomization_file=kfile, kustomization=edited)
    plan.plain = edits.empty
    collector = _Collector(tree, plan)
    # The edited file replaces the original in the scratch root; the original is not an input.
    collector.follow(path, {k: v for k, v in edited.items()}, top=True, file=existing)
    if existing is not None:
        plan.files.pop(existing, None)
    if existing is not None and set(original) - kustfile.KNOWN_FIELDS:
        plan.plain = False
    return plan


def plain_objects(tree: FileTree, plan: BuildPlan) -> list[tuple[dict[str, Any], str, int]]:
    """The output of a plain build, assembled in-process: documents in resource order, keys sorted.

    Each object comes with its file and the index of its document in that file. Raises
    ``jsonpatch.NotApplicable`` when a patch does not apply cleanly: kustomize builds it instead.
    """
    seen: dict[tuple[str, str, str, str], str] = {}

    def emit(directory: str, kustomization: Mapping[str, Any]) -> list[tuple[dict[str, Any], str, int]]:
        out: list[tuple[dict[str, Any], str, int]] = []
        for value in kustomization.get("resources") or []:
            rel = join(directory, str(value))
            if rel is None:
                raise PlanError(f"resource {value!r} escapes the source root")
            if tree.is_file(rel):
                for position, doc in enumerate(tree.docs(rel)):
                    body = _sorted(doc)
                    meta = body.get("metadata") or {}
                    api = str(body.get("apiVersion") or "")
                    ident = (
                        api.rpartition("/")[0],
                        str(body.get("kind")),
                        str(meta.get("namespace") or ""),
                        str(meta.get("name")),
                    )
                    if ident in seen:
                        raise PlanError(
                            f"may not add resource with an already registered id: "
                            f"{body.get('kind')}.{api}/{meta.get('name')}.{meta.get('namespace') or '[noNs]'}",
                            rel,
                        )
                    seen[ident] = rel
                    out.append((body, rel, position))
            else:
                sub = find_kustomization_file(tree, rel)
                if sub is None:  # neither a file nor a kustomization inside the source root
                    raise PlanError(f"resource {value!r} is not a file or kustomization in the source root")
                out.extend(emit(rel, _load_kustomization(tree, sub)))
        # As kustomize: a kustomization's patches apply to everything it accumulated, below included.
        patches = jsonpatch.simple_patches(kustomization.get("patches") or [])
        if patches is None:
            raise jsonpatch.NotApplicable
        for patch in patches:
            for i, (body, rel, position) in enumerate(out):
                if patch.selects(body):
                    jsonpatch.apply(body, patch)  # a copy: _sorted built it
                    out[i] = (_sorted(body), rel, position)
        return out

    return emit(plan.path, plan.kustomization)


def _sorted(node: Any) -> Any:
    """Keys sorted recursively, as kustomize prints every object."""
    if isinstance(node, dict):
        return {str(k): _sorted(node[k]) for k in sorted(node, key=str)}
    if isinstance(node, list):
        return [_sorted(v) for v in node]
    return node


def engine_kustomization(plan: BuildPlan) -> tuple[dict[str, Any], bool]:
    """The file given to kustomize: Flux's edit plus fluxfleet's engine options.

    ``sortOptions: fifo`` reproduces Flux, which leaves kustomize's legacy re-ordering off (the
    kustomize CLI would sort). ``originAnnotations`` tells fluxfleet which file each object came from;
    the annotation is removed again unless the kustomization asked for it. Returns (file, injected).
    """
    out = dict(plan.kustomization)
    if out.get("kind", "Kustomization") == "Kustomization" and "sortOptions" not in out:
        out["sortOptions"] = {"order": "fifo"}
    build_metadata = list(out.get("buildMetadata") or [])
    injected = "originAnnotations" not in build_metadata
    if injected:
        out["buildMetadata"] = [*build_metadata, "originAnnotations"]
    return out, injected


def kustomization_text(kustomization: Mapping[str, Any]) -> str:
    return yamlio.dump(dict(kustomization))
