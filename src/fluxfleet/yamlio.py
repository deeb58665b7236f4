"""Safe, fast YAML for fluxfleet: one module owns every YAML parse and dump.

Why not plain ``yaml.safe_load``:
- Kubernetes (go-yaml v3, kyaml) reads YAML 1.2 scalars: ``yes``/``on`` and ``1:30`` stay strings and
  dates are never parsed. PyYAML's defaults are YAML 1.1, so we install 1.2 core-schema resolvers.
- Alias expansion is bounded ("billion laughs"): documents with anchors are composed node by node and
  their expanded size is measured before anything is constructed.
- Files have a size limit and errors name file, line and column.
Documents without anchors take the libyaml fast path; the result is the same.
"""

from __future__ import annotations

import functools
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from fluxfleet.errors import FleetError

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_EXPANDED_NODES = 2_000_000
_MAX_INT_BITS = 4096  # far beyond any int64 Kubernetes field, far below str()'s 4,300-digit limit

_CLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


def _install_core_schema(loader: Any) -> None:
    loader.yaml_implicit_resolvers = {}
    loader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))
    loader.add_implicit_resolver("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""])
    loader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
    loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
    loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
    loader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def _construct_int(loader: Any, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    try:
        if text.startswith("0o"):
            value = int(text[2:], 8)
        elif text.startswith("0x"):
            value = int(text[2:], 16)
        else:
            value = int(text)
    except ValueError:
        value = None  # Python refuses decimal strings of over 4,300 digits (CVE-2020-10735)
    # Such a number could not be printed either (str() has the same limit), nor does Kubernetes
    # take one: refuse it here, where the line is known.
    if value is None or value.bit_length() > _MAX_INT_BITS:
        raise yaml.constructor.ConstructorError(
            None, None, f"integer of {len(text)} digits is too large", node.start_mark
        ) from None
    return value


def _construct_float(loader: Any, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node)).lower()
    if text.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    if text == ".nan":
        return float("nan")
    return float(text)


class _FastLoader(_CLoader):  # type: ignore[misc]
    pass


class _SafeLoader(yaml.SafeLoader):
    pass


_install_core_schema(_FastLoader)
_install_core_schema(_SafeLoader)


class _MarkedLoader(_FastLoader):
    """Composes nodes so that sizes and positions are known before construction."""


def _mark_error(exc: yaml.MarkedYAMLError, file: str) -> FleetError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    return FleetError(
        f"malformed YAML: {problem}",
        file=file,
        line=mark.line + 1 if mark else None,
        column=mark.column + 1 if mark else None,
    )


def _yaml_failure(exc: yaml.YAMLError, file: str, text: str) -> FleetError:
    if isinstance(exc, yaml.MarkedYAMLError):
        return _mark_error(exc, file)
    if isinstance(exc, yaml.reader.ReaderError):
        # A character YAML forbids (control characters): point at it by line, as a marked error.
        pos = exc.position
        line = text.count("\n", 0, pos) + 1
        column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        return FleetError(f"malformed YAML: {exc.reason}", file=file, line=line, column=column)
    return FleetError(f"malformed YAML: {exc}", file=file)


def read_text(path: Path, *, display: str | None = None, max_bytes: int = MAX_FILE_BYTES) -> str:
    """Read a UTF-8 text file with a size limit."""
    name = display or str(path)
    try:
        info = path.stat()
    except OSError as exc:
        raise FleetError(f"cannot read file: {exc.strerror}", file=name) from None
    if not stat.S_ISREG(info.st_mode):
        # A FIFO would block the read forever, a device would never end.
        raise FleetError("not a regular file (a FIFO, device or socket); refused", file=name)
    size = info.st_size
    if size > max_bytes:
        raise FleetError(
            f"file is {size} bytes, over the limit of {max_bytes}",
            file=name,
            hint="split it into smaller files",
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FleetError(f"file is not UTF-8 text ({exc.reason})", file=name) from None
    except OSError as exc:
        raise FleetError(f"cannot read file: {exc.strerror}", file=name) from None


def _expanded_size(node: yaml.Node, memo: dict[int, int], stack: set[int], file: str) -> int:
    key = id(node)
    if key in memo:
        return memo[key]
    if key in stack:
        raise FleetError(
            "recursive YAML alias",
            file=file,
            line=node.start_mark.line + 1,
            column=node.start_mark.column + 1,
        )
    stack.add(key)
    size = 1
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            size += _expanded_size(child, memo, stack, file)
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            size += _expanded_size(k, memo, stack, file) + _expanded_size(v, memo, stack, file)
    stack.discard(key)
    memo[key] = size
    return size


def _compose_checked(text: str, file: str) -> Iterator[yaml.Node]:
    loader = _MarkedLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            size = _expanded_size(node, {}, set(), file)
            if size > MAX_EXPANDED_NODES:
                raise FleetError(
                    f"YAML aliases expand to {size} nodes, over the limit of {MAX_EXPANDED_NODES}",
                    file=file,
                    line=node.start_mark.line + 1,
                    hint="this looks like a YAML bomb; remove the nested aliases",
                )
            yield node
    except yaml.YAMLError as exc:
        raise _yaml_failure(exc, file, text) from None
    finally:
        loader.dispose()


def check_aliases(text: str, file: str) -> None:
    """Raise :class:`FleetError` when the aliases of ``text`` expand past the limit (a YAML bomb).

    For files fluxfleet hands to another parser (kustomize) without reading them itself.
    """
    if "&" not in text:
        return  # no anchor, nothing an alias could expand
    for _ in _compose_checked(text, file):
        pass


def _construct(node: yaml.Node, file: str) -> Any:
    loader = _MarkedLoader("")
    try:
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise _mark_error(exc, file) from None


_ANCHOR_HINT = re.compile(r"(?:^|[\s\[\{,:-])[&*][^\s]", re.MULTILINE)

_T_STR = "tag:yaml.org,2002:str"
_T_MAP = "tag:yaml.org,2002:map"
_T_SEQ = "tag:yaml.org,2002:seq"
_T_NULL = "tag:yaml.org,2002:null"
_T_BOOL = "tag:yaml.org,2002:bool"
_T_INT = "tag:yaml.org,2002:int"
_T_FLOAT = "tag:yaml.org,2002:float"


class _Unsupported(Exception):
    """A node the direct constructor leaves to PyYAML's (other tags, merge keys, complex keys)."""


def _direct(node: yaml.Node, loader: Any) -> Any:
    """Construct plain core-schema data from a node: what the safe constructor gives, about twice as fast.

    PyYAML's constructor spends most of its time on generic machinery (generators for recursive
    structures, per-tag dispatch, state for aliases); anchor-free Kubernetes YAML needs none of it.
    """
    cls = node.__class__
    if cls is yaml.ScalarNode:
        tag = node.tag
        if tag == _T_STR:
            return node.value
        if tag == _T_NULL:
            return None
        if tag == _T_BOOL:
            return str(node.value).lower() == "true"
        if tag == _T_INT:
            return _construct_int(loader, node)  # type: ignore[arg-type]
        if tag == _T_FLOAT:
            return _construct_float(loader, node)  # type: ignore[arg-type]
        raise _Unsupported
    if cls is yaml.MappingNode:
        if node.tag != _T_MAP:
            raise _Unsupported
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.__class__ is not yaml.ScalarNode or key_node.tag not in (
                _T_STR,
                _T_INT,
                _T_BOOL,
                _T_NULL,
            ):
                raise _Unsupported
            out[_direct(key_node, loader)] = _direct(value_node, loader)
        return out
    if cls is yaml.SequenceNode:
        if node.tag != _T_SEQ:
            raise _Unsupported
        return [_direct(child, loader) for child in node.value]
    raise _Unsupported


def _load_direct(text: str) -> list[Any]:
    loader = _FastLoader(text)
    try:
        out = []
        while loader.check_node():
            data = _direct(loader.get_node(), loader)
            if data is not None:
                out.append(data)
        return out
    finally:
        loader.dispose()


def load_all(text: str, file: str = "<input>") -> list[Any]:
    """Parse every document of a YAML stream (empty documents dropped)."""
    if not _ANCHOR_HINT.search(text):
        try:
            try:
                return _load_direct(text)
            except _Unsupported:
                return [d for d in yaml.load_all(text, Loader=_FastLoader) if d is not None]
        except yaml.YAMLError as exc:
            raise _yaml_failure(exc, file, text) from None
    docs = [_construct(n, file) for n in _compose_checked(text, file)]
    return [d for d in docs if d is not None]


def load_file(path: Path, display: str | None = None) -> list[Any]:
    name = display or str(path)
    return load_all(read_text(path, display=name), name)


Marks = dict[tuple[str | int, ...], tuple[int, int]]


def _walk_marks(node: yaml.Node, path: tuple[str | int, ...], marks: Marks, file: str) -> None:
    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for k, v in node.value:
            key = str(k.value) if isinstance(k, yaml.ScalarNode) else "?"
            if key in seen:
                raise FleetError(
                    f"duplicate key `{key}` (first at line {seen[key]})",
                    file=file,
                    line=k.start_mark.line + 1,
                    column=k.start_mark.column + 1,
                    field=".".join(str(p) for p in (*path, key)),
                )
            seen[key] = k.start_mark.line + 1
            _walk_marks(v, (*path, key), marks, file)
            # Point at the key, not its value: "unknown key" errors then name the right line.
            marks[(*path, key)] = (k.start_mark.line + 1, k.start_mark.column + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            _walk_marks(child, (*path, i), marks, file)


def load_all_with_marks(text: str, file: str) -> list[tuple[Any, Marks]]:
    """Parse documents and record the line/column of every key path (for error messages).

    Duplicate mapping keys are an error here: in a hand-written definition they are always a mistake.
    """
    out: list[tuple[Any, Marks]] = []
    for node in _compose_checked(text, file):
        marks: Marks = {}
        _walk_marks(node, (), marks, file)
        data = _construct(node, file)
        if data is not None:
            out.append((data, marks))
    return out


class _Dumper(_CDumper):  # type: ignore[misc]
    def ignore_aliases(self, data: Any) -> bool:
        # Shared Python objects must not become YAML anchors: Kubernetes manifests never use them.
        return True


def _str_representer(dumper: Any, value: str) -> Any:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str_representer)
# Quote what either YAML 1.1 (PyYAML's default) or 1.2 (go-yaml, Kubernetes) would not read as a string.
_Dumper.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
_Dumper.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))


class _NotSimple(Exception):
    """Raised by the fast emitter for shapes it leaves to PyYAML (multi-line strings, odd keys)."""


_PLAIN = re.compile(r"^[A-Za-z0-9_./$][A-Za-z0-9_./$:{}()@+=,~^%\- ]*$")
_RESOLVER = yaml.resolver.Resolver()


@functools.lru_cache(maxsize=65536)
def _scalar(value: str) -> str:
    if (
        _PLAIN.match(value)
        and ": " not in value
        and " #" not in value
        and not value.endswith((" ", ":"))
        and _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) == "tag:yaml.org,2002:str"  # type: ignore[no-untyped-call]
        and not (_BOOL.match(value) or _NULL.match(value) or _INT.match(value) or _FLOAT.match(value))
    ):
        return value
    if any(ch in value for ch in "\n\r\t\x85\u2028\u2029") or not value.isprintable():
        raise _NotSimple
    return "'" + value.replace("'", "''") + "'"


def _atom(value: Any) -> str:
    if isinstance(value, str):
        return _scalar(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict) and not value:
        return "{}"
    if isinstance(value, list | tuple) and not value:
        return "[]"
    raise _NotSimple


def _emit_map(data: dict[Any, Any], pad: str, out: list[str], first_prefix: str | None = None) -> None:
    prefix = first_prefix
    for key, value in data.items():
        if not isinstance(key, str):
            raise _NotSimple
        lead = prefix if prefix is not None else pad
        prefix = None
        k = _scalar(key)
        if isinstance(value, dict) and value:
            out.append(f"{lead}{k}:\n")
            _emit_map(value, pad + "  ", out)
        elif isinstance(value, list | tuple) and value:
            out.append(f"{lead}{k}:\n")
            _emit_seq(value, pad, out)
        else:
            out.append(f"{lead}{k}: {_atom(value)}\n")


def _emit_seq(items: list[Any] | tuple[Any, ...], pad: str, out: list[str]) -> None:
    for item in items:
        if isinstance(item, dict) and item:
            _emit_map(item, pad + "  ", out, first_prefix=f"{pad}- ")
        elif isinstance(item, list | tuple) and item:
            raise _NotSimple
        else:
            out.append(f"{pad}- {_atom(item)}\n")


def dump(data: Any) -> str:
    """Deterministic block-style YAML that keeps key order (what a human would write).

    Common manifest shapes go through a small emitter that is ~10x faster than PyYAML's
    representer (the generator writes tens of thousands of files); anything unusual falls back
    to PyYAML with the same style.
    """
    if isinstance(data, dict) and data:
        out: list[str] = []
        try:
            _emit_map(data, "", out)
            return "".join(out)
        except _NotSimple:
            pass
    return _pyyaml_dump(data)


def _pyyaml_dump(data: Any) -> str:
    return str(
        yaml.dump(
            data,
            Dumper=_Dumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=1_000_000,
            indent=2,
        )
    )


def dump_all(docs: list[Any]) -> str:
    return "".join("---\n" + dump(d) for d in docs)
