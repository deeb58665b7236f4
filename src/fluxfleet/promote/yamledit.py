"""Comment- and order-preserving edits of the two files a promotion touches.

An overlay's ``images[].newTag`` and an app's ``pins`` in fleet.yaml are changed by rewriting only
the lines that hold them, located through ruamel.yaml's round-trip positions, so the rest of the
file stays byte for byte as the user wrote it. Every edit is verified by parsing the result and
comparing it with the intended data; when the surgical edit cannot be verified (unusual layouts)
a ruamel round-trip dump is tried, and when that fails too the edit is refused.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

from fluxfleet import yamlio
from fluxfleet.errors import FleetError
from fluxfleet.promote.tags import yaml_scalar


def _rt() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    return y


def _rt_load_all(text: str, file: str) -> list[Any]:
    try:
        return list(_rt().load_all(text))
    except YAMLError as exc:
        raise FleetError(f"cannot parse: {exc}", file=file) from None


# ---------------------------------------------------------------- overlays


def find_image(data: Any, image: str, file: str) -> dict[str, Any] | None:
    """The ``images`` entry of a kustomization for ``image``; None when there is none."""
    if not isinstance(data, dict):
        raise FleetError("a kustomization must be a mapping", file=file)
    images = data.get("images")
    if images is None:
        return None
    if not isinstance(images, list):
        raise FleetError("`images` must be a list", file=file, field="images")
    for i, entry in enumerate(images):
        if not isinstance(entry, dict):
            raise FleetError("every `images` entry must be a mapping", file=file, field=f"images[{i}]")
        if entry.get("name") == image:
            return entry
    return None


def load_overlay(text: str, file: str) -> dict[str, Any]:
    docs = yamlio.load_all(text, file)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise FleetError(
            "expected exactly one kustomization document (a mapping)",
            file=file,
            hint="fluxfleet keeps each environment's version in its overlay's `images:`",
        )
    return docs[0]


def image_tag(text: str, image: str, file: str) -> str | None:
    entry = find_image(load_overlay(text, file), image, file)
    if entry is None:
        return None
    if entry.get("digest"):
        raise FleetError(
            f"the overlay pins {image} by digest; fluxfleet promotes tags",
            file=file,
            field="images.digest",
            hint="replace `digest:` with `newTag:` to let fluxfleet manage this image",
        )
    tag = entry.get("newTag")
    if tag is not None and not isinstance(tag, str):
        raise FleetError(
            f"newTag of {image} must be a string, found {tag!r}",
            file=file,
            field="images.newTag",
            hint="quote it",
        )
    return tag


def _token_end(line: str, col: int) -> int:
    """End column of the scalar starting at ``col`` (quoted or plain, on one line)."""
    quote = line[col : col + 1]
    if quote == '"':
        i = col + 1
        while i < len(line):
            if line[i] == "\\":
                i += 2
                continue
            if line[i] == '"':
                return i + 1
            i += 1
        return -1
    if quote == "'":
        i = col + 1
        while i < len(line):
            if line[i] == "'":
                if line[i + 1 : i + 2] == "'":
                    i += 2
                    continue
                return i + 1
            i += 1
        return -1
    end = len(line)
    hash_at = line.find(" #", col)
    if hash_at != -1:
        end = hash_at
    if "{" in line[:col] or "[" in line[:col]:
        # inside a flow collection the scalar ends at the next separator
        for stop in (",", "}", "]"):
            pos = line.find(stop, col)
            if pos != -1 and pos < end:
                end = pos
    return col + len(line[col:end].rstrip())


def _replace_scalar(lines: list[str], line: int, col: int, value: str) -> bool:
    text = lines[line]
    end = _token_end(text, col)
    if end <= col:
        return False
    old = text[col:end]
    new = yaml_scalar(value)
    if old[:1] in ("'", '"') and new[:1] != '"':
        new = old[0] + value + old[0]
    lines[line] = text[:col] + new + text[end:]
    return True


def _verified(new_text: str, expected: list[Any], file: str) -> str | None:
    try:
        got = yamlio.load_all(new_text, file)
    except FleetError:
        return None
    return new_text if got == expected else None


def _edit(
    text: str,
    file: str,
    expected: list[Any],
    surgical: Callable[[list[str], list[Any]], bool],
    structural: Callable[[list[Any]], None],
) -> str:
    """Try the line edit, then a round-trip dump; return the first result that verifies."""
    rt_docs = _rt_load_all(text, file)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    try:
        ok = surgical(lines, rt_docs)
    except (KeyError, IndexError, AttributeError, TypeError):
        ok = False
    if ok:
        result = _verified("".join(lines), expected, file)
        if result is not None:
            return result
    result = _verified(_dump_rt(text, file, structural), expected, file)
    if result is not None:
        return result
    raise FleetError(
        "could not edit this file without changing more than intended",
        file=file,
        hint="simplify its layout (block style, one document) or edit it by hand",
    )


def _dump_rt(text: str, file: str, structural: Callable[[list[Any]], None]) -> str:
    _, indent, seq_offset = load_yaml_guess_indent(text)
    y = _rt()
    mapping = indent or 2
    y.indent(mapping=mapping, sequence=mapping + (seq_offset or 0), offset=seq_offset or 0)
    docs = list(y.load_all(text))
    structural(docs)
    out = io.StringIO()
    if len(docs) == 1:
        y.dump(docs[0], out)
    else:
        y.dump_all(docs, out)
    return out.getvalue()


def set_image_tag(text: str, image: str, tag: str, file: str) -> str:
    """``text`` with the overlay's tag for ``image`` set to ``tag`` (entry added when missing)."""
    data = load_overlay(text, file)
    image_tag(text, image, file)  # refuses digests and malformed entries
    expected = copy.deepcopy(data)
    entry = find_image(expected, image, file)
    if entry is not None:
        entry["newTag"] = tag
    elif isinstance(expected.get("images"), list):
        expected["images"].append({"name": image, "newTag": tag})
    else:
        expected["images"] = [{"name": image, "newTag": tag}]

    def surgical(lines: list[str], docs: list[Any]) -> bool:
        doc = docs[0]
        images = doc.get("images")
        if images is None:
            if doc.fa.flow_style():
                return False
            lines.append(f"images:\n- name: {yaml_scalar(image)}\n  newTag: {yaml_scalar(tag)}\n")
            return True
        if images.fa.flow_style():
            return False
        for item in images:
            if item.get("name") != image:
                continue
            if "newTag" in item:
                line, col = item.lc.value("newTag")
                return _replace_scalar(lines, line, col, tag)
            if item.fa.flow_style():
                return False
            line, col = item.lc.key("name")
            lines.insert(line + 1, " " * col + f"newTag: {yaml_scalar(tag)}\n")
            return True
        if not images:
            return False
        last = images[-1]
        if last.fa.flow_style():
            return False
        end = _last_line(last, int(images.lc.item(len(images) - 1)[0]))
        col = images.lc.item(len(images) - 1)[1]
        block = (
            " " * (col - 2) + f"- name: {yaml_scalar(image)}\n" + " " * col + f"newTag: {yaml_scalar(tag)}\n"
        )
        lines.insert(end + 1, block)
        return True

    def structural(docs: list[Any]) -> None:
        doc = docs[0]
        images = doc.setdefault("images", [])
        for item in images:
            if item.get("name") == image:
                item["newTag"] = tag
                return
        images.append({"name": image, "newTag": tag})

    return _edit(text, file, [expected], surgical, structural)


# ---------------------------------------------------------------- fleet.yaml pins


def _app_location(docs: list[Any], app: str, file: str) -> tuple[int, int]:
    for d, doc in enumerate(docs):
        spec = doc.get("spec") if isinstance(doc, dict) else None
        apps = spec.get("apps") if isinstance(spec, dict) else None
        if not isinstance(apps, list):
            continue
        for i, entry in enumerate(apps):
            if isinstance(entry, dict) and entry.get("name") == app:
                return d, i
    raise FleetError(f"app {app!r} is not defined in this file", file=file)


def _last_line(node: Any, start: int) -> int:
    """The last line a round-trip node's content reaches (one-line scalars; the edit is verified)."""
    end = start
    lc: Any = getattr(node, "lc", None)
    if isinstance(node, dict) and lc is not None:
        for key, value in node.items():
            k_line, _, v_line, _ = lc.data[key]
            end = max(end, int(k_line), _last_line(value, int(v_line)))
    elif isinstance(node, list) and lc is not None:
        for i, value in enumerate(node):
            line, _ = lc.data[i]
            end = max(end, _last_line(value, int(line)))
    return end


def _block_end(mapping: Any, key: str) -> int:
    """The last line of ``key`` and its value inside a round-trip mapping."""
    k_line, _, v_line, _ = mapping.lc.data[key]
    return _last_line(mapping[key], max(int(k_line), int(v_line)))


def set_app_pins(text: str, app: str, pins: dict[str, str], file: str) -> str:
    """``text`` with the app's ``pins`` set to ``pins`` (the key removed when empty)."""
    data = yamlio.load_all(text, file)
    d, i = _app_location(data, app, file)
    expected = copy.deepcopy(data)
    entry = expected[d]["spec"]["apps"][i]
    if pins:
        entry["pins"] = dict(sorted(pins.items()))
    else:
        entry.pop("pins", None)

    def block(col: int) -> str:
        out = " " * col + "pins:  # set by `fluxfleet promote` while a rollout is in progress\n"
        for cluster, tag in sorted(pins.items()):
            out += " " * (col + 2) + f"{yaml_scalar(cluster)}: {yaml_scalar(tag)}\n"
        return out

    def surgical(lines: list[str], docs: list[Any]) -> bool:
        node = docs[d]["spec"]["apps"][i]
        if node.fa.flow_style():
            return False
        col = int(node.lc.key("name")[1])
        if "pins" in node:
            start, end = int(node.lc.key("pins")[0]), _block_end(node, "pins")
            lines[start : end + 1] = [block(col)] if pins else []
            return True
        if not pins:
            return True
        lines.insert(_last_line(node, int(node.lc.key("name")[0])) + 1, block(col))
        return True

    def structural(docs: list[Any]) -> None:
        node = docs[d]["spec"]["apps"][i]
        if pins:
            node["pins"] = dict(sorted(pins.items()))
        elif "pins" in node:
            del node["pins"]

    return _edit(text, file, expected, surgical, structural)
