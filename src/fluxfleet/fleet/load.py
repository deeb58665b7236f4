"""Read ``fleet.yaml`` (plus ``fleet.d/*.yaml``) into a validated :class:`Fleet`.

Every problem becomes a :class:`FleetError` naming file, line, column and field, with a
"did you mean" hint where one helps. All problems of a file are reported together.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from fluxfleet import yamlio
from fluxfleet.errors import FleetError, FleetErrors, did_you_mean
from fluxfleet.fleet.model import (
    API_VERSION,
    REQUIRED_LABELS,
    App,
    Cluster,
    Component,
    Environment,
    FleetDocument,
    FleetFragment,
    GitSource,
)
from fluxfleet.fleet.policy import PolicyConfig
from fluxfleet.fleet.promotion import Freeze
from fluxfleet.fleet.service import ServiceConfig
from fluxfleet.fleet.tenancy import SecretsConfig, Team
from fluxfleet.fleet.wiring import AlertsConfig, FluxConfig
from fluxfleet.fsutil import check_relative, safe_join

FLEET_FILE = "fleet.yaml"
FLEET_DIR = "fleet.d"
MAX_FLEET_BYTES = 4 * 1024 * 1024


class RepoFiles(Protocol):
    """Read access to a repository tree at one revision (a render ``FileTree`` fits), so a fleet
    is loaded from a commit or from edits held in memory exactly as from the working tree."""

    def is_file(self, rel: str) -> bool: ...

    def is_dir(self, rel: str) -> bool: ...

    def listdir(self, rel: str) -> list[tuple[str, bool]]: ...

    def read(self, rel: str) -> tuple[bytes, str]: ...


@dataclass(frozen=True)
class Origin:
    file: str
    line: int | None = None


@dataclass(frozen=True)
class Fleet:
    """A validated fleet. Pure data: helpers below only look things up."""

    name: str
    source: GitSource
    environments: tuple[Environment, ...]
    clusters: tuple[Cluster, ...]
    platform: tuple[Component, ...]
    apps: tuple[App, ...]
    teams: tuple[Team, ...] = ()
    freezes: tuple[Freeze, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    secrets: SecretsConfig = field(default_factory=SecretsConfig)
    flux: FluxConfig = field(default_factory=FluxConfig)
    alerts: AlertsConfig | None = None
    service: ServiceConfig | None = None
    origins: dict[str, Origin] = field(default_factory=dict, compare=False)
    file: str = FLEET_FILE
    marks: yamlio.Marks = field(default_factory=dict, compare=False, repr=False)

    def error_at(self, loc: tuple[str | int, ...], message: str, hint: str | None = None) -> FleetError:
        """A located error about a key of the main fleet document (e.g. a policy setting)."""
        return _error_at(self.marks, self.file, loc, message, hint)

    @property
    def env_names(self) -> list[str]:
        return [e.name for e in self.environments]

    def env(self, name: str) -> Environment:
        for e in self.environments:
            if e.name == name:
                return e
        raise FleetError(f"unknown environment {name!r}", hint=_choices_hint(name, self.env_names))

    def previous_env(self, name: str) -> Environment | None:
        idx = self.env_names.index(self.env(name).name)
        return self.environments[idx - 1] if idx > 0 else None

    def cluster(self, name: str) -> Cluster:
        for c in self.clusters:
            if c.name == name:
                return c
        raise FleetError(
            f"unknown cluster {name!r}", hint=_choices_hint(name, [c.name for c in self.clusters])
        )

    def app(self, name: str) -> App:
        for a in self.apps:
            if a.name == name:
                return a
        raise FleetError(f"unknown app {name!r}", hint=_choices_hint(name, [a.name for a in self.apps]))

    def component(self, name: str) -> Component:
        for c in self.platform:
            if c.name == name:
                return c
        raise FleetError(
            f"unknown platform component {name!r}",
            hint=did_you_mean(name, [c.name for c in self.platform]),
        )

    @property
    def workloads(self) -> tuple[App | Component, ...]:
        """Platform components first (they are reconciled first), then apps."""
        return (*self.platform, *self.apps)

    def workload(self, name: str) -> App | Component:
        for w in self.workloads:
            if w.name == name:
                return w
        names = [w.name for w in self.workloads]
        raise FleetError(f"unknown app or component {name!r}", hint=did_you_mean(name, names))

    def clusters_in(self, env: str) -> list[Cluster]:
        return [c for c in self.clusters if c.environment == env]

    def freezes_for(self, env: str) -> tuple[Freeze, ...]:
        """Fleet-wide freezes first, then the environment's own."""
        return (*self.freezes, *self.env(env).promotion.freezes)

    def team(self, name: str) -> Team | None:
        return next((t for t in self.teams if t.name == name), None)


def _choices_hint(name: str, choices: list[str]) -> str | None:
    """ "did you mean" when a choice is close, else the list itself when it is short enough to read."""
    close = did_you_mean(name, choices)
    if close or not choices:
        return close
    shown = ", ".join(choices[:12]) + (f" (+{len(choices) - 12} more)" if len(choices) > 12 else "")
    return f"known: {shown}"


# ---------------------------------------------------------------- pydantic errors -> FleetError


def _unwrap(annotation: Any) -> Any:
    """The model class behind Optional/tuple/dict/Annotated annotations, if any."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (tuple, list, dict, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is Ellipsis or arg is type(None) or arg is str:
                continue
            found = _unwrap(arg)
            if isinstance(found, type) and issubclass(found, BaseModel):
                return found
        return None
    return annotation


def _model_at(model: type[BaseModel], path: Iterable[str | int]) -> type[BaseModel] | None:
    current: type[BaseModel] | None = model
    for part in path:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        match = None
        for name, info in current.model_fields.items():
            if part in (name, info.alias):
                match = info
                break
        if match is None:
            return None
        inner = _unwrap(match.annotation)
        current = inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None
    return current


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _locate(marks: yamlio.Marks, loc: tuple[str | int, ...]) -> tuple[int | None, int | None]:
    for end in range(len(loc), -1, -1):
        if loc[:end] in marks:
            line, col = marks[loc[:end]]
            return line, col
    return None, None


def _field_name(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _convert(
    exc: ValidationError, model: type[BaseModel], marks: yamlio.Marks, file: str
) -> list[FleetError]:
    errors: list[FleetError] = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if isinstance(p, str | int))
        line, col = _locate(marks, loc)
        hint = None
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and loc and isinstance(loc[-1], str):
            parent = _model_at(model, loc[:-1])
            message = f"unknown key `{loc[-1]}`"
            if parent is not None:
                allowed = _allowed_keys(parent)
                hint = did_you_mean(loc[-1], allowed) or f"allowed keys: {', '.join(allowed)}"
        elif err["type"] == "missing" and loc:
            message = f"`{loc[-1]}` is required"
        elif err["type"] == "literal_error" and loc == ("apiVersion",):
            hint = f"use apiVersion: {API_VERSION}"
        elif "labels" in loc and "are required" in message:
            found = err.get("input") or {}
            if isinstance(found, dict):
                for req in REQUIRED_LABELS:
                    close = did_you_mean(req, [str(k) for k in found]) if req not in found else None
                    if close:
                        typo = close.split("`")[1]
                        hint = f"did you mean `{req}`? (found `{typo}`)"
        errors.append(
            FleetError(message, file=file, line=line, column=col, field=_field_name(loc), hint=hint)
        )
    return errors


# ---------------------------------------------------------------- loading


@dataclass
class _Item:
    """A list entry (cluster, app, ...) with where it was written."""

    value: Any
    file: str
    section: str
    index: int
    marks: yamlio.Marks

    @property
    def line(self) -> int | None:
        return _line(self.marks, "spec", self.section, self.index)

    def error(self, message: str, *key: str, hint: str | None = None) -> FleetError:
        """An error about ``key`` (a path inside this entry), located at that key."""
        loc: tuple[str | int, ...] = ("spec", self.section, self.index, *key)
        line, column = _locate(self.marks, loc)
        return FleetError(
            message, file=self.file, line=line, column=column, field=_field_name(loc), hint=hint
        )


def _error_at(
    marks: yamlio.Marks, file: str, loc: tuple[str | int, ...], message: str, hint: str | None = None
) -> FleetError:
    line, column = _locate(marks, loc)
    return FleetError(message, file=file, line=line, column=column, field=_field_name(loc), hint=hint)


def _tree_text(files: RepoFiles, rel: str) -> str:
    try:
        data, _ = files.read(rel)
    except OSError as exc:
        raise FleetError(f"cannot read file: {exc}", file=rel) from None
    if len(data) > MAX_FLEET_BYTES:
        raise FleetError(
            f"file is {len(data)} bytes, over the limit of {MAX_FLEET_BYTES}",
            file=rel,
            hint="split it into smaller files",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FleetError(f"file is not UTF-8 text ({exc.reason})", file=rel) from None


def _parse_file(path: Path, display: str, files: RepoFiles | None = None) -> list[tuple[Any, yamlio.Marks]]:
    if files is None:
        text = yamlio.read_text(path, display=display, max_bytes=MAX_FLEET_BYTES)
    else:
        text = _tree_text(files, display)
    docs = yamlio.load_all_with_marks(text, display)
    if not docs:
        raise FleetError("the fleet definition is empty", file=display, hint="run `fluxfleet init --example`")
    for data, _ in docs:
        if not isinstance(data, dict):
            raise FleetError("a fleet document must be a mapping", file=display, line=1)
    return docs


def _line(marks: yamlio.Marks, *loc: str | int) -> int | None:
    return marks.get(tuple(loc), (None, None))[0]


def load_fleet(repo: Path, fleet_file: Path | None = None, *, files: RepoFiles | None = None) -> Fleet:
    """Load and validate the fleet of repository ``repo``.

    ``files`` serves the repository instead of the disk (a revision, or a tree with edits); then
    ``repo`` only names the root and folders named in fleet.yaml are looked up in ``files``.
    """
    repo = repo.resolve()
    path = fleet_file or repo / FLEET_FILE
    if fleet_file is not None:
        files = None  # an explicit fleet file is the user's, on disk
    display = FLEET_FILE if files is not None else _display(path, repo)
    if files is None and fleet_file is None and path.is_symlink():
        safe_join(repo, FLEET_FILE, field=FLEET_FILE)  # a link may not lead out of the repository
    if not (files.is_file(FLEET_FILE) if files is not None else path.is_file()):
        raise FleetError(
            "no fleet definition found",
            file=display,
            hint="run `fluxfleet init --example` to start one, or pass --fleet",
        )
    errors: list[FleetError] = []
    docs = _parse_file(path, display, files)
    if len(docs) != 1:
        raise FleetError(
            f"{display} holds {len(docs)} documents; put extra ones under {FLEET_DIR}/",
            file=display,
            line=1,
        )
    data, marks = docs[0]
    try:
        doc = FleetDocument.model_validate(data)
    except ValidationError as exc:
        raise FleetErrors(_convert(exc, FleetDocument, marks, display)) from None

    items: dict[str, list[_Item]] = {"clusters": [], "platform": [], "apps": [], "teams": []}
    for section in items:
        for i, value in enumerate(getattr(doc.spec, section)):
            items[section].append(_Item(value, display, section, i, marks))

    if files is not None:
        errors += _tree_fragments(files, items)
    frag_dir = path.parent / FLEET_DIR
    if files is None and frag_dir.is_dir():
        for frag_path in sorted(frag_dir.glob("*.y*ml")):
            if frag_path.suffix not in (".yaml", ".yml"):
                continue
            frag_display = _display(frag_path, repo)
            if frag_path.is_symlink() or frag_dir.is_symlink():
                safe_join(repo, frag_display)
            errors += _add_fragment(_parse_file(frag_path, frag_display), frag_display, items)
    if errors:
        raise FleetErrors(errors)

    fleet = Fleet(
        name=doc.metadata.name,
        source=doc.spec.source,
        environments=doc.spec.environments,
        clusters=tuple(i.value for i in items["clusters"]),
        platform=tuple(i.value for i in items["platform"]),
        apps=tuple(i.value for i in items["apps"]),
        teams=tuple(i.value for i in items["teams"]),
        freezes=doc.spec.freezes,
        sources=dict(doc.spec.sources),
        policy=doc.spec.policy,
        secrets=doc.spec.secrets,
        flux=doc.spec.flux,
        alerts=doc.spec.alerts,
        service=doc.spec.service,
        origins={f"{s}/{i.value.name}": Origin(i.file, i.line) for s, lst in items.items() for i in lst},
        file=display,
        marks=marks,
    )
    errors = validate_references(fleet, items, display, marks)
    errors += _validate_paths(fleet, repo, items, display, marks, files)
    if errors:
        raise FleetErrors(errors) if len(errors) > 1 else errors[0]
    return fleet


def _tree_fragments(files: RepoFiles, items: dict[str, list[_Item]]) -> list[FleetError]:
    errors: list[FleetError] = []
    if not files.is_dir(FLEET_DIR):
        return errors
    for name, is_dir in files.listdir(FLEET_DIR):
        if is_dir or not name.endswith((".yaml", ".yml")):
            continue
        frag_display = f"{FLEET_DIR}/{name}"
        errors += _add_fragment(_parse_file(Path(frag_display), frag_display, files), frag_display, items)
    return errors


def _add_fragment(
    docs: list[tuple[Any, yamlio.Marks]], display: str, items: dict[str, list[_Item]]
) -> list[FleetError]:
    """Append the entries of one ``fleet.d/`` file's documents to ``items``; returns its errors."""
    errors: list[FleetError] = []
    for fdata, fmarks in docs:
        try:
            frag = FleetFragment.model_validate(fdata)
        except ValidationError as exc:
            errors.extend(_convert(exc, FleetFragment, fmarks, display))
            continue
        for section in items:
            for i, value in enumerate(getattr(frag.spec, section)):
                items[section].append(_Item(value, display, section, i, fmarks))
    return errors


def _display(path: Path, repo: Path) -> str:
    try:
        return str(path.resolve().relative_to(repo))
    except ValueError:
        return str(path)


def _dupes(section: str, lst: list[_Item], errors: list[FleetError], seen: dict[str, _Item]) -> None:
    for item in lst:
        name = item.value.name
        if name in seen:
            first = seen[name]
            errors.append(
                item.error(f"duplicate name {name!r} (first defined at {first.file}:{first.line})", "name")
            )
        else:
            seen[name] = item


def _find_cycle(graph: dict[str, tuple[str, ...]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in graph.get(node, ()):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep in graph and state.get(dep) is None:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


def _automation_errors(item: _Item, app: App, env_seen: set[str], env_names: list[str]) -> list[FleetError]:
    auto = app.automation
    if auto is None:
        return []
    errors = [
        item.error(
            f"app {app.name!r} automates undeclared environment {env!r}",
            "automation",
            "environments",
            hint=did_you_mean(env, env_seen) or f"declared: {', '.join(env_names)}",
        )
        for env in auto.environments
        if env not in env_seen
    ]
    if auto.image is None and app.image is None:
        errors.append(
            item.error(
                f"app {app.name!r} has automation but no image to follow",
                "automation",
                hint="add `images: [registry/org/app]` to the app or `image:` to its automation",
            )
        )
    return errors


def validate_references(
    fleet: Fleet, items: dict[str, list[_Item]], display: str, marks: yamlio.Marks
) -> list[FleetError]:
    errors: list[FleetError] = []
    env_seen: set[str] = set()
    for i, env in enumerate(fleet.environments):
        if env.name in env_seen:
            errors.append(
                _error_at(
                    marks, display, ("spec", "environments", i, "name"), f"duplicate environment {env.name!r}"
                )
            )
        env_seen.add(env.name)
    if not fleet.environments:
        errors.append(
            FleetError("at least one environment is required", file=display, field="spec.environments")
        )

    _dupes("clusters", items["clusters"], errors, {})
    _dupes("teams", items["teams"], errors, {})
    workloads: dict[str, _Item] = {}
    _dupes("platform", items["platform"], errors, workloads)
    _dupes("apps", items["apps"], errors, workloads)

    cluster_names = {c.name for c in fleet.clusters}
    team_names = {t.name for t in fleet.teams}
    for item in items["clusters"]:
        env = item.value.labels.get("environment")
        if env not in env_seen:
            errors.append(
                item.error(
                    f"cluster {item.value.name!r} has environment {env!r}, which is not declared",
                    "labels",
                    "environment",
                    hint=did_you_mean(str(env), env_seen) or f"declared: {', '.join(fleet.env_names)}",
                )
            )
    components = {c.name for c in fleet.platform}
    apps = {a.name for a in fleet.apps}
    for lst, allowed in (
        (items["platform"], components),
        (items["apps"], components | apps),
    ):
        for item in lst:
            for dep in item.value.depends_on:
                if dep not in allowed or dep == item.value.name:
                    what = "itself" if dep == item.value.name else f"unknown {dep!r}"
                    errors.append(
                        item.error(
                            f"{item.value.name!r} depends on {what}",
                            "dependsOn",
                            hint=did_you_mean(dep, allowed),
                        )
                    )
    for item in items["apps"]:
        app: App = item.value
        for env_key in app.versions:
            if env_key not in env_seen:
                errors.append(
                    item.error(
                        f"app {app.name!r} has a version for undeclared environment {env_key!r}",
                        "versions",
                        env_key,
                        hint=did_you_mean(env_key, env_seen) or f"declared: {', '.join(fleet.env_names)}",
                    )
                )
        for cluster in app.pins:
            if cluster not in cluster_names:
                errors.append(
                    item.error(
                        f"app {app.name!r} pins a version on unknown cluster {cluster!r}",
                        "pins",
                        cluster,
                        hint=did_you_mean(cluster, cluster_names),
                    )
                )
        errors.extend(_automation_errors(item, app, env_seen, fleet.env_names))
        if app.team and team_names and app.team not in team_names:
            errors.append(
                item.error(
                    f"app {app.name!r} belongs to undeclared team {app.team!r}",
                    "team",
                    hint=did_you_mean(app.team, team_names),
                )
            )
    graph = {w.name: w.depends_on for w in fleet.workloads}
    cycle = _find_cycle(graph)
    if cycle:
        origin = fleet.origins.get(f"platform/{cycle[0]}") or fleet.origins.get(f"apps/{cycle[0]}")
        errors.append(
            FleetError(
                f"dependency cycle: {' -> '.join(cycle)}",
                file=origin.file if origin else display,
                line=origin.line if origin else None,
                field="dependsOn",
                hint="Flux would wait forever on this cycle; remove one of the edges",
            )
        )
    env_refs: list[tuple[str | int, ...]] = [
        ("spec", "secrets", "ageRecipients", e) for e in fleet.secrets.age_recipients
    ]
    env_refs += [
        ("spec", "policy", "rules", rule_id, "environments", e)
        for rule_id, rule in fleet.policy.rules.items()
        for e in rule.environments
    ]
    env_refs += [("spec", "policy", "requireDigests", i) for i, _ in enumerate(fleet.policy.require_digests)]
    for loc in env_refs:
        env_name = str(loc[-1]) if isinstance(loc[-1], str) else fleet.policy.require_digests[int(loc[-1])]
        if env_name not in env_seen:
            errors.append(
                _error_at(
                    marks,
                    display,
                    loc,
                    f"environment {env_name!r} is not declared",
                    hint=did_you_mean(env_name, env_seen) or f"declared: {', '.join(fleet.env_names)}",
                )
            )
    return errors


def _validate_paths(
    fleet: Fleet,
    repo: Path,
    items: dict[str, list[_Item]],
    display: str,
    marks: yamlio.Marks,
    files: RepoFiles | None = None,
) -> list[FleetError]:
    errors: list[FleetError] = []
    # (path, where it was written, must the folder exist)
    checks: list[tuple[str, Callable[[str, str | None], FleetError], bool]] = []
    for section in ("platform", "apps", "clusters"):
        for item in items[section]:
            rel = item.value.path if section == "clusters" else item.value.repo_path
            if rel:
                key = ("path",) if item.value.path else ()
                checks.append((rel, partial(_item_error, item, key), False))
    located: list[tuple[str, tuple[str | int, ...], bool]] = [
        (rel, ("spec", "sources", name), False) for name, rel in fleet.sources.items()
    ]
    located += [(rel, ("spec", "policy", "rego", i), True) for i, rel in enumerate(fleet.policy.rego)]
    located += [
        (rel, ("spec", "policy", "gatekeeper", i), True) for i, rel in enumerate(fleet.policy.gatekeeper)
    ]
    for rel, loc, must_exist in located:
        checks.append((rel, partial(_located_error, marks, display, loc), must_exist))
    for rel, make_error, must_exist in checks:
        try:
            pure = check_relative(rel)
            target = safe_join(repo, rel) if files is None else None
        except FleetError as exc:
            errors.append(make_error(exc.message, exc.hint))
            continue
        exists = target.is_dir() if target is not None else files is not None and files.is_dir(str(pure))
        if must_exist and not exists:
            errors.append(make_error(f"folder {rel!r} does not exist", "create it, or remove the entry"))
    return errors


def _item_error(item: _Item, key: tuple[str, ...], message: str, hint: str | None) -> FleetError:
    return item.error(message, *key, hint=hint)


def _located_error(
    marks: yamlio.Marks, file: str, loc: tuple[str | int, ...], message: str, hint: str | None
) -> FleetError:
    return _error_at(marks, file, loc, message, hint)
