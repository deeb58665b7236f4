"""User policies in Rego, evaluated offline with an embedded engine (``regopy``, rego-cpp).

Dialect: **Rego v1 only** (``contains``/``if`` keywords; ``import rego.v1`` is accepted). rego-cpp
does not implement v0 semantics and silently misreads v0 partial-set rules (``deny[msg] { ... }``
becomes an object), so modules using v0 rule heads are refused with a clear message instead of
being evaluated wrongly. Engine errors (for example rego-cpp's "Invalid bracket argument" for
``_`` inside call arguments, or a missing built-in) are reported with the engine's own text.

This module runs conftest-style folders (rules ``deny``/``violation``/``warn`` with optional
``_suffix``, ``exception`` sets, input = one rendered object) and loads Gatekeeper and
ValidatingAdmissionPolicy objects from policy folders; Gatekeeper templates themselves run on
regorus (v0 and v1) and CEL, see ``gkclient``.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fluxfleet import yamlio
from fluxfleet.errors import FleetError
from fluxfleet.fsutil import safe_join
from fluxfleet.objects import K8sObject, Provenance

ENGINE = "regopy (rego-cpp)"
POLICY_API_PREFIXES = (
    "templates.gatekeeper.sh/",
    "constraints.gatekeeper.sh/",
    "mutations.gatekeeper.sh/",
    "config.gatekeeper.sh/",
    "admissionregistration.k8s.io/",
)
DIALECT = "Rego v1"
RULE_NAME = re.compile(r"^(deny|violation|warn)(_[A-Za-z0-9_]+)?$")
_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][\w.]*)", re.MULTILINE)
# A v0 rule head: `name {`, `name[x] {`, `name(x) {`, `name = v {`, `else = v {` with no `if`.
_V0_HEAD = re.compile(
    r"^(?:default\s+)?(?:[A-Za-z_][\w.]*|else)\s*(?:\[[^\]\n]*\]|\([^)\n]*\))?\s*(?:(?::=|=)\s*[^{\n]*?[^\s{:=][^{\n]*?)?\s*\{"
)


def engine_version() -> str:
    try:
        import regopy

        return f"{ENGINE} {regopy.rego_version()}"
    except Exception:  # pragma: no cover - import problems are reported when used
        return ENGINE


def _strip(source: str) -> list[str]:
    """Lines with comments and string literals blanked, so braces in them do not count."""
    out = []
    for line in source.splitlines():
        line = re.sub(r'"(?:\\.|[^"\\])*"', '""', line)
        line = re.sub(r"`[^`]*`", "``", line)
        out.append(line.split("#", 1)[0])
    return out


def v0_constructs(source: str) -> list[int]:
    """1-based line numbers of rule heads written in Rego v0 syntax (body without ``if``)."""
    found = []
    depth = 0
    for n, line in enumerate(_strip(source), start=1):
        if depth == 0:
            head = line.strip()
            words = f" {head} "
            if (
                head
                and not head.startswith(("package", "import"))
                and " if " not in words
                and " contains " not in words
                and _V0_HEAD.match(head)
            ):
                found.append(n)
        depth += line.count("{") + line.count("[") + line.count("(")
        depth -= line.count("}") + line.count("]") + line.count(")")
        depth = max(depth, 0)
    return found


def package_of(source: str) -> str | None:
    m = _PACKAGE.search(source)
    return m.group(1) if m else None


def printed_any(sink: _StdoutSink) -> bool:
    sys.stdout.flush()
    return sink.pending()


class _StdoutSink:
    """rego-cpp prints compile errors to file descriptor 1; divert them here to quote them."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115  (lives as long as the policy)

    def pending(self) -> bool:
        return self._file.tell() > 0

    @contextmanager
    def capture(self) -> Iterator[list[str]]:
        box: list[str] = []
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(self._file.fileno(), 1)
        try:
            yield box
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            if self._file.tell():
                self._file.seek(0)
                box.append(self._file.read().decode("utf-8", "replace"))
                self._file.seek(0)
                self._file.truncate()


_ENGINE_LOCATION = re.compile(r"^-- (\S+:\d+:\d+)\s*$")


def _engine_message(text: str) -> str:
    """The engine's first error as ``file:line:column: message`` when it printed a location."""
    raw = [ln.rstrip() for ln in text.splitlines()]
    for i, line in enumerate(raw):
        m = _ENGINE_LOCATION.match(line.strip())
        if m and i > 0 and raw[i - 1].strip():
            return f"{m.group(1)}: {raw[i - 1].strip()}"
    lines = [ln for ln in raw if ln.strip() and set(ln.strip()) != {"~"}]
    lines = [ln for ln in lines if ln.strip() not in ("Errors:", "--")]
    return "; ".join(ln.strip() for ln in lines[:6]) or "the Rego engine reported an error"


class RegoModuleError(Exception):
    """A module the engine cannot evaluate faithfully (v0 syntax, parse or compile error)."""


@dataclass
class Module:
    name: str  # file path or "<template>/<lib n>"
    source: str


class CompiledPolicy:
    """One set of modules (plus data) loaded into an interpreter; query it per input."""

    def __init__(self, modules: list[Module], data: dict[str, Any] | None = None) -> None:
        try:
            from regopy import Interpreter, RegoError
        except ImportError as exc:  # pragma: no cover
            raise FleetError(f"the Rego engine is unavailable: {exc}", hint="reinstall fluxfleet") from None
        for m in modules:
            lines = v0_constructs(m.source)
            if lines:
                raise RegoModuleError(
                    f"{m.name}:{lines[0]}: Rego v0 rule syntax (no `if`) is not supported by {engine_version()}; "
                    "rewrite the module in Rego v1 (`deny contains msg if { ... }`, `opa fmt --v0-v1` does it)"
                )
        self._sink = _StdoutSink()
        self._interp = Interpreter()
        self._bundles: dict[str, Any] = {}
        current = "?"
        failure = ""
        # Parse errors are printed on stdout by the engine: capture them so that -o json/sarif
        # stay machine-readable, and quote them with their file:line:column.
        with self._sink.capture() as printed:
            try:
                for m in modules:
                    current = m.name
                    self._interp.add_module(m.name, m.source)
                current = "data"
                if data:
                    self._interp.add_data(data)
            except RegoError as exc:
                failure = str(exc)
        text = printed[0] if printed else ""
        if failure or text:
            message = _engine_message(text or failure)
            raise RegoModuleError(
                message if _ENGINE_LOCATION.match(f"-- {message.split(': ')[0]}") else f"{current}: {message}"
            )

    def _bundle(self, query: str) -> Any:
        """Compile once per query: evaluating a prebuilt bundle is ~10x faster than re-querying."""
        from regopy import RegoError

        if query not in self._bundles:
            # rego-cpp returns a bundle even when compilation failed (and crashes when it is run),
            # so compile through a plain query first: compile errors are printed, runtime ones not.
            with self._sink.capture() as printed:
                try:
                    self._interp.set_input({})
                    probe = self._interp.query(query)
                    bundle = None if printed_any(self._sink) else self._interp.build(query, [])
                except RegoError as exc:
                    probe, bundle, failure = None, None, str(exc)
                else:
                    failure = "" if probe.ok() else str(probe)
            text = printed[0] if printed else ""
            if bundle is None or text:
                raise RegoModuleError(_engine_message(text or failure))
            self._bundles[query] = bundle
        return self._bundles[query]

    def query(self, expr: str, input_doc: Any) -> Any:
        """The value bound to ``x`` by ``x = <expr>`` (None when undefined)."""
        from regopy import RegoError

        bundle = self._bundle(f"x = {expr}")
        with self._sink.capture() as printed:
            try:
                self._interp.set_input(input_doc)
                out = self._interp.query_bundle(bundle)
            except RegoError as exc:
                out = None
                failure = str(exc)
        if out is None:
            raise RegoModuleError(_engine_message((printed[0] if printed else "") or failure))
        if not out.ok():
            raise RegoModuleError(_engine_message(printed[0] if printed else str(out)))
        for result in out.results:
            if "x" in result.bindings:
                return result.bindings["x"]
        return None


# ---------------------------------------------------------------- conftest-style folders


@dataclass
class ConftestPolicies:
    """Packages with deny/violation/warn rules, compiled once for the whole run."""

    folders: tuple[str, ...]
    packages: list[str]
    policy: CompiledPolicy

    def evaluate(self, doc: dict[str, Any]) -> list[tuple[str, str, str]]:
        """``(package.rule, level, message)`` for one input document; level is deny or warn."""
        out: list[tuple[str, str, str]] = []
        for pkg in self.packages:
            value = self.policy.query(f"data.{pkg}", doc)
            if not isinstance(value, dict):
                continue
            exempt: set[str] = set()
            for entry in value.get("exception") or []:  # a set of rule-name lists (conftest)
                exempt.update(str(x) for x in (entry if isinstance(entry, list) else [entry]))
            for name in sorted(value):
                m = RULE_NAME.match(name)
                if not m:
                    continue
                suffix = (m.group(2) or "").removeprefix("_")
                if suffix in exempt:
                    continue
                level = "warn" if m.group(1) == "warn" else "deny"
                results = value[name]
                items = results if isinstance(results, list) else [results] if results else []
                for item in items:
                    msg = item.get("msg") if isinstance(item, dict) else item
                    if msg in (None, False):
                        continue
                    out.append((f"{pkg}.{name}", level, str(msg) if msg is not True else name))
        return out


def load_conftest(repo: Path, folders: tuple[str, ...]) -> ConftestPolicies | None:
    """Load every ``*.rego`` (not ``*_test.rego``) under the given repository folders."""
    if not folders:
        return None
    modules: list[Module] = []
    packages: set[str] = set()
    for folder in folders:
        root = safe_join(repo, folder)
        if not root.is_dir():
            raise FleetError(f"policy folder {folder!r} does not exist", field="policy.rego")
        for path in sorted(root.rglob("*.rego")):
            if path.name.endswith("_test.rego"):
                continue
            rel = path.relative_to(repo).as_posix()
            source = yamlio.read_text(path, display=rel)
            pkg = package_of(source)
            if pkg is None:
                raise FleetError("Rego module has no package", file=rel)
            modules.append(Module(rel, source))
            if re.search(r"^\s*(deny|violation|warn)(_\w+)?\s+contains\b", source, re.MULTILINE):
                packages.add(pkg)
    if not modules:
        raise FleetError(f"no .rego files under {', '.join(folders)}", field="policy.rego")
    try:
        compiled = CompiledPolicy(modules)
        for pkg in packages:  # surface engine errors now, not per object
            compiled.query(f"data.{pkg}", {})
    except RegoModuleError as exc:
        raise FleetError(
            f"cannot evaluate policy: {exc}", hint=f"fluxfleet evaluates {DIALECT} with {engine_version()}"
        ) from None
    return ConftestPolicies(folders, sorted(packages), compiled)


def load_gatekeeper(repo: Path, folders: tuple[str, ...]) -> tuple[K8sObject, ...]:
    """Gatekeeper objects (templates, constraints, mutators, Config) and ValidatingAdmissionPolicies
    with their bindings from repository folders (YAML files, recursively)."""
    out: list[K8sObject] = []
    for folder in folders:
        root = safe_join(repo, folder)
        if not root.is_dir():
            raise FleetError(f"Gatekeeper folder {folder!r} does not exist", field="policy.gatekeeper")
        for path in sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml")):
            rel = path.relative_to(repo).as_posix()
            for doc in yamlio.load_file(path, display=rel):
                api = str(doc.get("apiVersion") or "") if isinstance(doc, dict) else ""
                if api.startswith(POLICY_API_PREFIXES) and (
                    not api.startswith("admissionregistration.k8s.io/")
                    or str(doc.get("kind")).startswith("ValidatingAdmissionPolicy")
                ):
                    out.append(K8sObject.of(doc, Provenance(file=rel)))
    return tuple(out)


@dataclass
class RegoPolicies:
    """User policies of a run: conftest folders, and Gatekeeper objects from policy folders
    (Gatekeeper objects inside a cluster's render are found per cluster)."""

    conftest: ConftestPolicies | None = None
    gatekeeper: tuple[K8sObject, ...] = field(default_factory=tuple)
    # Gatekeeper templates shipping Rego and CEL: "auto" runs CEL as Gatekeeper does by default.
    gatekeeper_engine: str = "auto"
