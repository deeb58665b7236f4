"""Runs kustomize builds: deduplicated, cached, in parallel, never inside the user's tree.

A build request is (source tree, path, Flux spec edits). Identical requests within a run share one
future; identical *content* (the plan's content key) shares one result across trees and revisions,
so a thousand clusters on the same overlay cost one build and an unchanged Kustomization in a diff
costs nothing. Plain builds are assembled in-process; the rest run ``kustomize`` in a bounded thread
pool, each in its own scratch root holding exactly the planned input files plus the edited
kustomization. Results are stored in the persistent :class:`BuildCache` keyed by content.

Results are shared between callers and must be treated as read-only.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fluxfleet import yamlio
from fluxfleet.errors import FleetError
from fluxfleet.proc import ToolError
from fluxfleet.render import engine as engine_mod
from fluxfleet.render import files, secrets
from fluxfleet.render.cache import BuildCache
from fluxfleet.render.files import FileTree, join
from fluxfleet.render.jsonpatch import NotApplicable
from fluxfleet.render.kustfile import SpecEdits
from fluxfleet.render.plan import (
    BuildPlan,
    PlanError,
    engine_kustomization,
    kustomization_text,
    plain_objects,
    plan_build,
)

ORIGIN = "config.kubernetes.io/origin"
BuiltObject = tuple[dict[str, Any], str | None]  # body, root-relative file it came from


@dataclass(frozen=True)
class BuildResult:
    objects: tuple[BuiltObject, ...] = ()
    key: str | None = None
    error: str | None = None
    error_file: str | None = None
    error_line: int | None = None
    error_column: int | None = None
    how: str = ""  # in-process | kustomize | cache | error
    positions: tuple[int, ...] | None = None  # in-process: each object's document index in its file


def default_jobs() -> int:
    return max(2, min(8, (os.cpu_count() or 2)))


class Builder:
    def __init__(
        self,
        *,
        cache: BuildCache | None = None,
        jobs: int | None = None,
        engine: engine_mod.Engine | None = None,
    ) -> None:
        self.cache = cache
        self._engine = engine
        self._pool = ThreadPoolExecutor(max_workers=jobs or default_jobs(), thread_name_prefix="kustomize")
        # Keyed by the tree object itself, not id(tree): holding it keeps it alive, so a later tree
        # can never reuse a freed one's id and be served its builds (seen as a flaky promote preview).
        self._requests: dict[tuple[FileTree, str, SpecEdits], Future[BuildResult]] = {}
        self._memo: dict[str, BuildResult] = {}
        self._inputs: dict[tuple[FileTree, str, SpecEdits], files.Reads] = {}  # what planning read
        self._running: dict[str, Future[BuildResult]] = {}
        self._lock = threading.Lock()
        self._scratch = Path(tempfile.mkdtemp(prefix="fluxfleet-build-"))
        self.stats: Counter[str] = Counter()

    def __enter__(self) -> Builder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self._scratch, ignore_errors=True)

    def engine(self) -> engine_mod.Engine:
        with self._lock:
            if self._engine is None:
                self._engine = engine_mod.locate()
            return self._engine

    def submit(self, tree: FileTree, path: str, edits: SpecEdits) -> Future[BuildResult]:
        """A future of the build; only kustomize runs in the pool, the rest completes right here.

        Planning, in-process assembly and persistent-cache reads hold the GIL, so running them in
        worker threads only added lock traffic; a pool slot is now spent only on a subprocess.
        """
        request = (tree, path, edits)
        with self._lock:
            future = self._requests.get(request)
            if future is not None:
                self.stats["deduplicated"] += 1
                files.note(self._inputs[request])  # the caller read them too, through the shared build
                return future
            self.stats["requests"] += 1
        with files.recording() as inputs:
            future = self._start(tree, path, edits)
        with self._lock:
            self._requests[request] = future
            self._inputs[request] = inputs
        return future

    def _start(self, tree: FileTree, path: str, edits: SpecEdits) -> Future[BuildResult]:
        try:
            plan = plan_build(tree, path, edits)
        except PlanError as exc:
            self.stats["error"] += 1
            return _done(_plan_error(exc))
        except FleetError as exc:
            self.stats["error"] += 1
            where = exc.location
            return _done(
                BuildResult(
                    error=exc.message,
                    error_file=where.file,
                    error_line=where.line,
                    error_column=where.column,
                    how="error",
                )
            )
        if plan.remote:
            return _done(
                BuildResult(
                    error="remote bases are not fetched offline: " + ", ".join(plan.remote),
                    error_file=plan.kustomization_file,
                    how="error",
                )
            )
        if plan.plain:
            key = plan.content_key("in-process")
            hit = self._memo.get(key)
            if hit is not None:
                self.stats["memo"] += 1
                return _done(hit)
            try:
                objects = plain_objects(tree, plan)
            except PlanError as exc:
                return _done(self._remember(key, _plan_error(exc, key), "error"))
            except NotApplicable:
                objects = None  # a patch that does not apply: kustomize builds it and words why
            if objects is not None:
                built = BuildResult(
                    tuple((body, rel) for body, rel, _ in objects),
                    key,
                    how="in-process",
                    positions=tuple(position for _, _, position in objects),
                )
                return _done(self._remember(key, built, "in-process"))
        engine = self.engine()
        key = plan.content_key(engine.id)
        hit = self._memo.get(key)
        if hit is not None:
            self.stats["memo"] += 1
            return _done(hit)
        running = self._running.get(key)
        if running is not None:  # same content from another tree (the other revision of a diff)
            self.stats["memo"] += 1
            return running
        if self.cache is not None:
            entry = self.cache.get(key)
            if entry is not None:
                result = _from_entry(key, entry)
                if result is not None:
                    return _done(self._remember(key, result, "cache"))
        future = self._pool.submit(self._run_kustomize, tree, plan, key, engine)
        self._running[key] = future
        return future

    # -- worker side -------------------------------------------------------------------------

    def _remember(self, key: str, result: BuildResult, how: str) -> BuildResult:
        with self._lock:
            self._memo[key] = result
            self.stats[how] += 1
        return result

    def _run_kustomize(
        self, tree: FileTree, plan: BuildPlan, key: str, engine: engine_mod.Engine
    ) -> BuildResult:
        result = self._kustomize(tree, plan, key, engine)
        # Nothing that holds a Secret value is stored in clear (a secretGenerator, a plaintext Secret).
        if self.cache is not None and result.how != "transient" and not _holds_secret_values(result):
            self.cache.put(key, _to_entry(result))
        return self._remember(key, result, "kustomize")

    def _kustomize(self, tree: FileTree, plan: BuildPlan, key: str, engine: engine_mod.Engine) -> BuildResult:
        root = self._scratch / key[:24]
        try:
            for rel in plan.files:
                target = root / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(tree.read(rel)[0])
            kustomization, injected = engine_kustomization(plan)
            target = root / plan.kustomization_file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(kustomization_text(kustomization), encoding="utf-8")
            try:
                text = engine.build(
                    root / plan.path if plan.path else root, root=root, root_only=plan.root_only
                )
            except ToolError as exc:
                message = str(exc.message).replace(f"{root}/", "").replace(str(root), ".")
                transient = any(
                    words in message
                    for words in ("did not finish", "program not found", "was killed", "not started")
                )
                message = message.replace("kustomize build failed (exit 1): ", "kustomize build failed: ")
                return BuildResult(
                    key=key,
                    error=message,
                    error_file=plan.kustomization_file,
                    how="transient" if transient else "kustomize",
                )
            try:
                docs = yamlio.load_all(text, "<kustomize output>")
            except FleetError as exc:
                return BuildResult(
                    key=key, error=f"kustomize output does not parse: {exc.message}", how="kustomize"
                )
            origins: dict[str, str | None] = {}  # most objects share a handful of origins
            objects = [
                _provenance(doc, plan.path, injected, origins) for doc in docs if isinstance(doc, dict)
            ]
            return BuildResult(tuple(objects), key, how="kustomize")
        finally:
            shutil.rmtree(root, ignore_errors=True)


def _holds_secret_values(result: BuildResult) -> bool:
    return any(secrets.holds_values(body) for body, _ in result.objects)


def _plan_error(exc: PlanError, key: str | None = None) -> BuildResult:
    return BuildResult(
        key=key,
        error=str(exc),
        error_file=exc.file,
        error_line=exc.line,
        error_column=exc.column,
        how="error",
    )


def _done(result: BuildResult) -> Future[BuildResult]:
    future: Future[BuildResult] = Future()
    future.set_result(result)
    return future


def _provenance(body: dict[str, Any], path: str, strip: bool, origins: dict[str, str | None]) -> BuiltObject:
    meta = body.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    origin = annotations.get(ORIGIN) if isinstance(annotations, dict) else None
    file: str | None = None
    if isinstance(origin, str):
        ref = origins.get(origin, "")
        if ref == "":
            try:
                parsed = yamlio.load_all(origin, "<origin>")
            except FleetError:
                parsed = []
            info = parsed[0] if parsed and isinstance(parsed[0], dict) else {}
            found = info.get("path") or info.get("configuredIn")
            ref = found if isinstance(found, str) else None
            origins[origin] = ref
        if ref is not None:
            file = join(path, ref)
        if strip and isinstance(meta, dict) and isinstance(annotations, dict):
            del annotations[ORIGIN]
            if not annotations:
                del meta["annotations"]
    return body, file


def _to_entry(result: BuildResult) -> dict[str, Any]:
    if result.error is not None:
        return {"error": result.error, "error_file": result.error_file}
    return {"objects": [[body, file] for body, file in result.objects]}


def _from_entry(key: str, entry: dict[str, Any]) -> BuildResult | None:
    if "error" in entry:
        return BuildResult(
            key=key, error=str(entry["error"]), error_file=entry.get("error_file"), how="cache"
        )
    objects = entry.get("objects")
    if not isinstance(objects, list):
        return None
    return BuildResult(tuple((o[0], o[1]) for o in objects), key, how="cache")
