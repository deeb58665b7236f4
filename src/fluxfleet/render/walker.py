"""Walk clusters the way kustomize-controller reconciles them, all clusters in lock-step.

Each cluster starts at its root Kustomization. Every round submits the builds of all newly found
Kustomizations of all clusters (they run in parallel), then processes them in discovery order: the
per-resource steps, then the Flux Kustomizations (and Flux Operator ResourceSets) found in the output
join the next round. A Kustomization whose ``substituteFrom`` objects are not rendered yet waits while
other work in its cluster can still produce them; after that its missing sources count as living
only in the cluster. Every Kustomization ends up rendered or listed with a reason; errors are
collected with cluster, Kustomization and file, and never stop the walk.

The post-processed result of a Kustomization is memoised by the content key of its build plus
everything the per-resource steps read, so a second render of a revision (or an unchanged
Kustomization in a diff) reuses the first one's objects. A whole cluster is reused from the previous
render when its spec is the same and every question its walk asked of the trees (recorded through
``files.recording``) gets the same answer now.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from fluxfleet.objects import K8sObject, ObjectKey, Provenance
from fluxfleet.render import artifacts, files, helm, resourceset, spokes
from fluxfleet.render.builder import Builder, BuildResult
from fluxfleet.render.discover import ClusterSpec
from fluxfleet.render.files import FileTree
from fluxfleet.render.fluxks import FluxKustomization, Sources, is_flux_kustomization
from fluxfleet.render.kustfile import SpecEdits
from fluxfleet.render.lines import LineIndex
from fluxfleet.render.model import ClusterRender, KsStatus, KustomizationRender, RenderError
from fluxfleet.render.postbuild import OWNER_NAME, OWNER_NAMESPACE, Context, ResourceError, process
from fluxfleet.render.varsub import (
    Path,
    ScalarMemo,
    SubstitutionError,
    Variables,
    dollar_paths,
    load_variables,
    referenced_names,
)


@dataclass
class _Processed:
    objects: tuple[K8sObject, ...]
    errors: tuple[tuple[str, str | None], ...]
    warnings: tuple[str, ...]


@dataclass
class _SharedObject:
    """A processed object that every Kustomization reading the same variable values shares."""

    body: dict[str, Any]  # the built object it was made from (identity check for the id() key)
    obj: K8sObject
    sops: bool
    unencrypted: bool


@dataclass
class _BodyFacts:
    body: dict[str, Any]
    paths: list[Path] | None  # the string values holding "$" (None: a key holds one)
    names: tuple[str, ...] | None  # sorted variable names read (None: some string does not parse)


def _frozen(value: Any) -> Any:
    """A hashable stand-in for a small JSON-shaped spec field (None stays None)."""
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, default=str)


@dataclass
class _Item:
    ks: FluxKustomization
    parent: str | None
    ancestors: tuple[str, ...]
    kind: str = "Kustomization"
    future: Future[BuildResult] | None = None
    done: bool = False
    prebuilt: tuple[tuple[dict[str, Any], str | None], ...] | None = None  # ResourceSet expansion
    source: str = ""
    tree: FileTree | None = None  # the source root the build read


@dataclass
class _Cluster:
    spec: ClusterSpec
    sources: Sources
    items: list[_Item] = field(default_factory=list)
    by_id: dict[str, _Item] = field(default_factory=dict)
    results: dict[str, KustomizationRender] = field(default_factory=dict)
    errors: list[RenderError] = field(default_factory=list)
    reads: files.Reads = field(default_factory=dict)  # every question this cluster asked of a tree
    index: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)

    def pending(self) -> list[_Item]:
        return [i for i in self.items if not i.done]


@dataclass
class Rendered:
    """A cluster's render with everything it read, kept to reuse it on the next revision."""

    spec_key: str  # fingerprint of the cluster's ClusterSpec
    reads: files.Reads
    render: ClusterRender


def spec_key(spec: ClusterSpec) -> str:
    payload = json.dumps(dataclasses.asdict(spec), sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


class Walker:
    def __init__(
        self,
        builder: Builder,
        *,
        strict: bool = True,
        lines: LineIndex | None = None,
        reuse_clusters: bool = True,
        helm_renderer: helm.HelmRenderer | None = None,
    ) -> None:
        self.builder = builder
        self.reuse_clusters = reuse_clusters
        # The previous render(): what every cluster's result depended on besides its own reads (the
        # repository's source refs and the folder mappings), and each cluster with its reads.
        self._previous: tuple[str, dict[str, Rendered]] | None = None
        self.last_reused_clusters: list[str] = []
        self.strict = strict
        self.lines = LineIndex() if lines is None else lines
        self.memo: dict[tuple[Any, ...], _Processed] = {}
        # Per-object memo: a shared build result processed for one Kustomization name with the same
        # values of the variables it actually reads gives the same object on every cluster.
        self.object_memo: dict[tuple[Any, ...], _SharedObject] = {}
        self._body_facts: dict[int, _BodyFacts] = {}
        self.scalars = ScalarMemo()
        self.helm = helm_renderer if helm_renderer is not None else helm.HelmRenderer()
        self.stats = {"processed": 0, "reused": 0, "objects_shared": 0}
        # The latest render() only: "cluster Kind/ns/name" of each Kustomization whose per-resource
        # steps ran, or whose result was reused from an earlier render with the same inputs.
        self.last_processed: list[str] = []
        self.last_reused: list[str] = []

    # -- public --------------------------------------------------------------------------------

    def render(self, clusters: list[ClusterSpec], sources: Sources) -> list[ClusterRender]:
        """Render ``clusters``; a cluster whose previous render (same spec) read the same answers
        from the trees is that render, reused as is.

        A cluster's result depends only on its spec, the answers of the trees it asked (recorded
        during its walk, including the shared builds' planning and its HelmReleases' charts), the
        set of source refs that mean "this repository" (shared by all clusters) and the folder
        mappings; the session's options never change. So equal inputs give an identical result.
        """
        self.last_processed, self.last_reused, self.last_reused_clusters = [], [], []
        for spec in clusters:
            sources.repo_refs.add(spec.repo_source)
        context = json.dumps(
            [
                sorted(str(ref) for ref in sources.repo_refs),
                sorted((k, str(v)) for k, v in sources.mappings.items()),
            ]
        )
        reuse = self.reuse_clusters and len({spec.name for spec in clusters}) == len(clusters)
        previous: dict[str, Rendered] = {}
        if reuse and self._previous is not None and self._previous[0] == context:
            previous = self._previous[1]
        done: list[Rendered | None] = []
        states: list[tuple[int, _Cluster]] = []
        for spec in clusters:
            old = previous.get(spec.name)
            if old is not None and old.spec_key == spec_key(spec) and _same_answers(old.reads, sources):
                done.append(old)
                self.last_reused_clusters.append(spec.name)
                self.last_reused.extend(
                    f"{spec.name} {ks.kind}/{ks.id}"
                    for ks in old.render.kustomizations
                    if ks.kind != "HelmRelease"
                    and (ks.status == KsStatus.rendered or ks.reason == "post-build failed")
                )
                continue
            state = _Cluster(spec, sources)
            with files.recording(state.reads):
                self._enqueue(state, spec.root, None, ())
            states.append((len(done), state))
            done.append(None)
        self._walk([state for _, state in states])
        for position, state in states:
            with files.recording(state.reads):
                render = self._finish(state)
            done[position] = Rendered(spec_key(state.spec), state.reads, render)
        out = [entry for entry in done if entry is not None]
        self._previous = (context, {entry.render.cluster: entry for entry in out}) if reuse else None
        return [part for entry in out for part in spokes.split(entry.render)]

    def snapshot(self) -> tuple[str, list[Rendered]] | None:
        """The latest render with its reads (None when cluster reuse is off or names were not unique)."""
        if self._previous is None:
            return None
        return self._previous[0], list(self._previous[1].values())

    def seed(self, context: str, rendered: list[Rendered]) -> None:
        """Take ``rendered`` (a stored render of another revision) as the previous render."""
        if self.reuse_clusters:
            self._previous = (context, {entry.render.cluster: entry for entry in rendered})

    def _walk(self, states: list[_Cluster]) -> None:
        if not states:
            return
        while True:
            for state in states:
                with files.recording(state.reads):
                    for item in state.pending():
                        self._submit(state, item)
            progressed = False
            for state in states:
                progressed |= self._round(state, force=False)
            if not any(s.pending() for s in states):
                break
            if not progressed:
                for state in states:
                    self._round(state, force=True)

    # -- scheduling ----------------------------------------------------------------------------

    def _enqueue(
        self,
        state: _Cluster,
        ks: FluxKustomization,
        parent: str | None,
        ancestors: tuple[str, ...],
        kind: str = "Kustomization",
    ) -> _Item:
        item = _Item(ks, parent, ancestors, kind)
        state.items.append(item)
        state.by_id[f"{kind}/{ks.id}"] = item
        return item

    def _submit(self, state: _Cluster, item: _Item) -> None:
        if item.future is not None or item.prebuilt is not None or item.done:
            return
        ks = item.ks
        ref = ks.source_ref
        item.source = str(ref)
        if ks.suspended or (item.kind == "Kustomization" and ks.spec_problem() is not None):
            return
        tree = state.sources.tree_for(ref)
        path = ks.path
        if tree is None or path is None:
            return
        item.tree = tree
        item.future = self.builder.submit(tree, path, SpecEdits.from_spec(ks.spec))

    def _missing_sources(self, state: _Cluster, item: _Item) -> bool:
        post_build = item.ks.spec.get("postBuild")
        refs = post_build.get("substituteFrom") if isinstance(post_build, dict) else None
        if not isinstance(refs, list):
            return False  # a malformed spec is reported by spec_problem when the item is processed
        for ref in refs:
            if (
                isinstance(ref, dict)
                and (str(ref.get("kind")), item.ks.namespace, str(ref.get("name"))) not in state.index
            ):
                return True
        return False

    def _round(self, state: _Cluster, *, force: bool) -> bool:
        progressed = False
        for item in list(state.items):
            if item.done:
                continue
            others_pending = any(
                not o.done and o is not item and not self._missing_sources(state, o) for o in state.items
            )
            if not force and self._missing_sources(state, item) and others_pending:
                continue
            with files.recording(state.reads):
                self._process(state, item)
            item.done = True
            progressed = True
            if force:
                break  # one forced item may unblock the others
        return progressed

    # -- one Kustomization ---------------------------------------------------------------------

    def _process(self, state: _Cluster, item: _Item) -> None:
        ks = item.ks
        cluster = state.spec.name
        rid = f"{item.kind}/{ks.id}"
        source = item.source or str(ks.source_ref)

        def record(status: KsStatus, reason: str | None = None, **extra: Any) -> None:
            state.results[rid] = KustomizationRender(
                name=ks.name,
                namespace=ks.namespace,
                spec=ks.spec,
                status=status,
                source=source,
                parent=item.parent,
                reason=reason,
                file=ks.file,
                line=ks.line,
                kind=item.kind,
                **extra,
            )

        if item.prebuilt is None:
            problem = ks.spec_problem() if item.kind == "Kustomization" else None
            if problem is not None:
                message = f"invalid Kustomization: {problem}"
                state.errors.append(RenderError(cluster, message, ks.id, ks.file, ks.line))
                source = ""  # no usable sourceRef to name
                record(KsStatus.failed, message)
                return
            if ks.suspended:
                record(KsStatus.skipped, "suspended (spec.suspend: true)")
                return
            path = ks.path
            if path is None:
                message = f"spec.path {ks.spec.get('path')!r} escapes the source root"
                state.errors.append(RenderError(cluster, message, ks.id, ks.file, ks.line))
                record(KsStatus.failed, message)
                return
            if item.future is None:
                ref = ks.source_ref
                reason = (
                    f"source {ref} is not this repository and is not mapped to a folder "
                    f"(map it with --source {ref.name}=PATH or fleet.yaml spec.sources)"
                )
                if ref in state.sources.artifact_errors:
                    reason = f"artifact {ref} cannot be built offline: {state.sources.artifact_errors[ref]}"
                record(KsStatus.external, reason, path=path)
                return
            result = item.future.result()
            if result.error is not None:
                where: tuple[str | None, int | None, int | None]
                if result.error_file:
                    where = (result.error_file, result.error_line, result.error_column)
                else:
                    where = (ks.file, ks.line, None)
                state.errors.append(RenderError(cluster, result.error, ks.id, *where))
                record(KsStatus.failed, "build failed", path=path, build=result.how, content_key=result.key)
                return
            built, key, how, positions = result.objects, result.key, result.how, result.positions
        else:
            path, built, key, how, positions = None, item.prebuilt, None, "resourceset", None
        processed = self._post_process(state, item, built, key, positions)
        for message, file in processed.errors:
            state.errors.append(RenderError(cluster, message, ks.id, file or ks.file))
        failed = bool(processed.errors)
        objects = () if failed else processed.objects
        record(
            KsStatus.failed if failed else KsStatus.rendered,
            "post-build failed" if failed else None,
            path=path,
            objects=objects,
            warnings=processed.warnings,
            build=how,
            content_key=key,
        )
        index = state.index
        for obj in objects:
            okey = obj.key
            if okey.group == "" and okey.kind in ("ConfigMap", "Secret"):
                index[(okey.kind, okey.namespace, okey.name)] = obj.body
        self._children(state, item, objects)

    def _variables(self, state: _Cluster, ks: FluxKustomization) -> Variables | None:
        post_build = ks.spec.get("postBuild")
        if post_build is None:
            return None
        if not isinstance(post_build, dict):
            raise SubstitutionError("spec.postBuild must be a mapping")

        def lookup(kind: str, name: str) -> dict[str, Any] | None:
            return state.index.get((kind, ks.namespace, name))

        return load_variables(post_build, lookup)

    def _post_process(
        self,
        state: _Cluster,
        item: _Item,
        built: tuple[tuple[dict[str, Any], str | None], ...],
        key: str | None,
        positions: tuple[int, ...] | None = None,
    ) -> _Processed:
        ks = item.ks
        try:
            variables = self._variables(state, ks)
        except SubstitutionError as exc:
            return _Processed((), ((str(exc), ks.file),), ())
        decryption = bool(ks.spec.get("decryption"))
        common = _frozen(ks.spec.get("commonMetadata"))
        owner_keys = (
            (resourceset.OWNER_NAME, resourceset.OWNER_NAMESPACE)
            if item.kind == "ResourceSet"
            else (OWNER_NAME, OWNER_NAMESPACE)
        )
        var_key = (
            None
            if variables is None
            else (tuple(sorted(variables.values.items())), variables.unknown_sources, variables.strategy)
        )
        memo_key = None
        if key is not None:
            memo_key = (key, ks.name, ks.namespace, common, decryption, var_key, self.strict, owner_keys)
            hit = self.memo.get(memo_key)
            if hit is not None:
                self.stats["reused"] += 1
                self.last_reused.append(f"{state.spec.name} {item.kind}/{ks.id}")
                return hit
        self.stats["processed"] += 1
        self.last_processed.append(f"{state.spec.name} {item.kind}/{ks.id}")
        ctx = Context(ks.name, ks.namespace, ks.spec, variables, self.strict, owner_keys)
        ctx.paths_of = self._paths_of
        ctx.scalars = self.scalars
        objects: list[K8sObject] = []
        errors: list[tuple[str, str | None]] = []
        fixed = (ks.name, ks.namespace, common, decryption, self.strict, owner_keys)
        kustomization = ks.id
        tree = item.tree
        lines = self.lines

        def line_of(number: int, body: dict[str, Any], file: str | None) -> int | None:
            if tree is None or file is None:
                return None  # a ResourceSet's expansion has no document of its own
            if positions is not None:
                return lines.at(tree, file, positions[number])
            return lines.find(tree, file, body)

        for number, (body, file) in enumerate(built):
            memo_obj = self._object_key(body, fixed, variables) if key is not None else None
            shared = self.object_memo.get(memo_obj) if memo_obj is not None else None
            if shared is not None and shared.body is body:
                if shared.sops:
                    ctx.sops_secrets.append(str(shared.obj.key))
                if shared.unencrypted:
                    ctx.encrypted_without_decryption.append(str(shared.obj.key))
                self.stats["objects_shared"] += 1
                obj = shared.obj
                if obj.source.file != file:
                    line = line_of(number, body, file)
                    obj = K8sObject(obj.key, obj.body, Provenance(file, line, kustomization))
                objects.append(obj)
                continue
            before = (len(ctx.sops_secrets), len(ctx.encrypted_without_decryption))
            try:
                out = process(body, ctx, file)
            except ResourceError as exc:
                errors.append((str(exc), file))
                continue
            source = Provenance(file, line_of(number, body, file), kustomization)
            obj = K8sObject(ObjectKey.of(out), out, source)
            if memo_obj is not None:
                self.object_memo[memo_obj] = _SharedObject(
                    body,
                    obj,
                    len(ctx.sops_secrets) > before[0],
                    len(ctx.encrypted_without_decryption) > before[1],
                )
            objects.append(obj)
        for ident in ctx.encrypted_without_decryption:
            errors.append(
                (
                    f"<{ident}> is SOPS encrypted, configuring decryption is required for this secret to be reconciled",
                    None,
                )
            )
        warnings: list[str] = []
        if variables is not None and variables.unknown_sources:
            warnings.append(
                "substituteFrom "
                + ", ".join(variables.unknown_sources)
                + " not found in the render (or encrypted); its variables are left as written"
            )
        processed = _Processed(tuple(objects), tuple(errors), tuple(warnings))
        if memo_key is not None:
            self.memo[memo_key] = processed
        return processed

    def _facts(self, body: dict[str, Any]) -> _BodyFacts:
        """What substitution needs to know about a built object, worked out once per object."""
        facts = self._body_facts.get(id(body))
        if facts is None or facts.body is not body:
            paths = dollar_paths(body)
            names = None if paths is None else referenced_names(body, self.scalars) if paths else frozenset()
            facts = _BodyFacts(body, paths, None if names is None else tuple(sorted(names)))
            self._body_facts[id(body)] = facts
        return facts

    def _paths_of(self, body: dict[str, Any]) -> list[Path] | None:
        return self._facts(body).paths

    def _object_key(
        self, body: dict[str, Any], fixed: tuple[Any, ...], variables: Variables | None
    ) -> tuple[Any, ...] | None:
        if variables is None:
            return (id(body), fixed)
        facts = self._facts(body)
        if facts.paths == []:
            return (id(body), fixed)  # not a single "$": substitution cannot change it
        names = facts.names
        if names is None:
            return None
        get = variables.values.get
        values = tuple([get(n) for n in names])
        return (id(body), fixed, values, variables.complete, variables.strategy, bool(variables.values))

    def _children(self, state: _Cluster, item: _Item, objects: tuple[K8sObject, ...]) -> None:
        own = f"{item.kind}/{item.ks.id}"
        chain = (*item.ancestors, own)
        for obj in objects:  # generators first: a sibling Kustomization may read their artifacts
            if artifacts.is_generator(obj.body):
                state.sources.add_generator(obj.body)
        for obj in objects:
            body = obj.body
            kind = None
            if is_flux_kustomization(body):
                kind = "Kustomization"
            elif resourceset.is_resourceset(body):
                kind = "ResourceSet"
            if kind is None:
                continue
            child = FluxKustomization.of(body, obj.source.file, obj.source.line)
            cid = f"{kind}/{child.id}"
            if cid == own:
                continue  # a Kustomization that applies itself (flux-system does)
            if cid in chain:
                cycle = " -> ".join([*chain[chain.index(cid) :], cid])
                state.errors.append(
                    RenderError(state.spec.name, f"Kustomization cycle: {cycle}", item.ks.id, obj.source.file)
                )
                continue
            if cid in state.by_id:
                other = state.by_id[cid].parent
                state.errors.append(
                    RenderError(
                        state.spec.name,
                        f"{cid} is applied by both {other} and {item.ks.id}; they would fight over it",
                        item.ks.id,
                        obj.source.file,
                    )
                )
                continue
            new = self._enqueue(state, child, item.ks.id, chain, kind)
            if kind == "Kustomization":
                # Start its build now: kustomize then runs while the other clusters are processed.
                self._submit(state, new)
            if kind == "ResourceSet":
                new.source = f"ResourceSet/{child.id}"
                try:
                    expanded = resourceset.expand(body, _providers(state, objects))
                    new.prebuilt = tuple((o, obj.source.file) for o in expanded)
                except resourceset.ExpandError as exc:
                    if isinstance(exc, resourceset.ExpandLimit):
                        state.errors.append(RenderError(state.spec.name, str(exc), cid, obj.source.file))
                    new.done = True
                    if isinstance(exc, resourceset.InvalidResourceSet):
                        state.errors.append(
                            RenderError(state.spec.name, str(exc), child.id, obj.source.file, obj.source.line)
                        )
                    state.results[cid] = KustomizationRender(
                        name=child.name,
                        namespace=child.namespace,
                        spec=child.spec,
                        status=KsStatus.skipped,
                        source=new.source,
                        parent=item.ks.id,
                        reason=f"not expanded: {exc}",
                        file=obj.source.file,
                        kind="ResourceSet",
                    )

    # -- result --------------------------------------------------------------------------------

    def _finish(self, state: _Cluster) -> ClusterRender:
        ordered = _tree_order(state)
        errors = list(state.errors)
        errors.extend(_dependency_errors(state.spec.name, ordered))
        outcomes = self.helm.releases(state.spec.name, ordered, state.sources)
        for outcome in outcomes:
            if outcome.entry is not None:
                ordered.append(outcome.entry)
            if outcome.error is not None:
                errors.append(outcome.error)
        return ClusterRender(
            cluster=state.spec.name,
            path=state.spec.path,
            labels=dict(state.spec.labels),
            kustomizations=tuple(ordered),
            errors=tuple(errors),
            helmreleases=tuple(o.info for o in outcomes),
        )


def _providers(state: _Cluster, objects: tuple[K8sObject, ...]) -> dict[tuple[str, str], dict[str, Any]]:
    """ResourceSetInputProviders rendered so far on this cluster, and in the current build."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    done = [o for result in state.results.values() for o in result.objects]
    for obj in (*done, *objects):
        if obj.key.kind == resourceset.PROVIDER_KIND and obj.key.group == resourceset.GROUP:
            found[(obj.key.namespace, obj.key.name)] = obj.body
    return found


def _same_answers(reads: files.Reads, sources: Sources) -> bool:
    roles = {role for role, _, _ in reads}
    return all(sources.tree_of_role(role).same_answers(reads, role) for role in roles)


def _tree_order(state: _Cluster) -> list[KustomizationRender]:
    """Depth-first, children in the order their parent's build emitted them."""
    children: dict[str | None, list[str]] = {}
    for item in state.items:
        children.setdefault(item.parent, []).append(f"{item.kind}/{item.ks.id}")
    out: list[KustomizationRender] = []
    seen: set[str] = set()

    def visit(rid: str) -> None:
        if rid in seen or rid not in state.results:
            return
        seen.add(rid)
        ks = state.results[rid]
        out.append(ks)
        for child in children.get(ks.id, []):
            visit(child)

    for root in children.get(None, []):
        visit(root)
    for rid in state.results:  # anything unreachable (never expected) still shows up
        visit(rid)
    return out


def _dependency_errors(cluster: str, kustomizations: list[KustomizationRender]) -> list[RenderError]:
    """dependsOn targets that do not exist, and dependsOn cycles (Flux would wait forever)."""
    ids = {k.id for k in kustomizations if k.kind == "Kustomization"}
    graph = {k.id: k.depends_on for k in kustomizations if k.kind == "Kustomization"}
    errors = []
    for ks in kustomizations:
        if ks.kind != "Kustomization":
            continue
        for dep in ks.depends_on:
            if dep not in ids:
                errors.append(
                    RenderError(
                        cluster,
                        f"dependsOn {dep} does not exist on this cluster; it would never become ready",
                        ks.id,
                        ks.file,
                        ks.line,
                    )
                )
    state: dict[str, int] = {}
    reported: set[frozenset[str]] = set()

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for dep in graph.get(node, []):
            if dep not in graph:
                continue
            if state.get(dep) == 1:
                cycle = [*stack[stack.index(dep) :], dep]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    errors.append(RenderError(cluster, "dependsOn cycle: " + " -> ".join(cycle), dep))
            elif state.get(dep) is None:
                visit(dep, stack)
        stack.pop()
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])
    return errors
