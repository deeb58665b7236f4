"""Secrets rules: SOPS recipients and MACs per environment, External Secrets stores, SealedSecret scope.

Renders mask SOPS values (as ``flux build`` does), so the sops metadata is read from each rendered
object's source file (its provenance) and from the sops files inside the Kustomization's folder
(generator inputs). Recipients come from fleet.yaml through ``CheckOptions.age_recipients``; MACs
are verified with the real sops only when key files are given, and the plaintext is dropped at once.
Messages name files, keys and recipients, never values.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fluxfleet import yamlio
from fluxfleet.check.context import ClusterContext
from fluxfleet.check.model import Severity, Violation
from fluxfleet.check.registry import cluster_rule, object_rule
from fluxfleet.check.rules.flux_refs import KS_GROUP
from fluxfleet.errors import FleetError
from fluxfleet.fsutil import safe_join
from fluxfleet.objects import K8sObject
from fluxfleet.render.files import FileTree, norm
from fluxfleet.secrets.files import SopsFile, read_sops_file, sops_file_of
from fluxfleet.secrets.status import document_problems, recipient_problems

if TYPE_CHECKING:
    pass

CAT = "secrets"
ESO_GROUP = "external-secrets.io"
SEALED_GROUP = "bitnami.com"
SEALED_CLUSTER_WIDE = "sealedsecrets.bitnami.com/cluster-wide"
SEALED_NAMESPACE_WIDE = "sealedsecrets.bitnami.com/namespace-wide"
MAX_FOLDER_FILES = 2000


@dataclass(frozen=True)
class Deployed:
    """A sops file that reaches this cluster, and the object (or Kustomization) to report it on."""

    file: SopsFile
    anchor: K8sObject | None
    kustomization: str | None


def _repo(ctx: ClusterContext) -> Path | None:
    repo = getattr(ctx.options, "repo", None)
    return repo if isinstance(repo, Path) else None


def _cache(ctx: ClusterContext, name: str) -> dict[str, Any]:
    cache = getattr(ctx.options, "cache", None)
    if not isinstance(cache, dict):
        return {}
    found = cache.setdefault(name, {})
    assert isinstance(found, dict)
    return found


def _tree(ctx: ClusterContext) -> FileTree | None:
    tree = getattr(ctx.options, "tree", None)
    return tree if isinstance(tree, FileTree) else None


def _sops_file(ctx: ClusterContext, repo: Path, rel: str) -> SopsFile | None:
    memo = _cache(ctx, "secrets.sops-files")
    tree = _tree(ctx)
    if rel not in memo and tree is not None:
        try:
            memo[rel] = sops_file_of(rel, tree.read(rel)[0])
        except OSError:
            memo[rel] = None
    if rel not in memo:
        try:
            safe_join(repo, rel)
            memo[rel] = read_sops_file(repo, rel)
        except FleetError:
            memo[rel] = None
    found = memo[rel]
    return found if isinstance(found, SopsFile) else None


def _folder_sops_files(ctx: ClusterContext, repo: Path, folder: str) -> list[str]:
    """sops files below a Kustomization's path (secretGenerator inputs never show up as provenance)."""
    memo = _cache(ctx, "secrets.folders")
    tree = _tree(ctx)
    if folder not in memo and tree is not None:
        key = norm(folder.removeprefix("./"))
        listed = tree.walk_files(key)[: MAX_FOLDER_FILES + 1] if key is not None else []
        memo[folder] = [
            rel
            for rel in listed
            if not any(p.startswith(".") for p in rel.split("/")) and _sops_file(ctx, repo, rel) is not None
        ]
    if folder not in memo:
        found: list[str] = []
        try:
            root = safe_join(repo, folder)
        except FleetError:
            root = None
        if root is not None and root.is_dir():
            top = repo.resolve()  # once per folder, not once per file below it
            for i, path in enumerate(sorted(root.rglob("*"))):
                if i > MAX_FOLDER_FILES:
                    break
                if (
                    path.is_file()
                    and not path.is_symlink()
                    and not any(p.startswith(".") for p in path.parts)
                ):
                    rel = path.relative_to(top).as_posix()
                    if _sops_file(ctx, repo, rel) is not None:
                        found.append(rel)
        memo[folder] = found
    return list(memo[folder])


def deployed_sops_files(ctx: ClusterContext) -> list[Deployed]:
    # Three rules ask per cluster; walking every object's provenance once is enough.
    found = ctx.cache.get("secrets.deployed")
    if found is None:
        found = ctx.cache["secrets.deployed"] = _deployed_sops_files(ctx)
    return list(found)


def _deployed_sops_files(ctx: ClusterContext) -> list[Deployed]:
    repo = _repo(ctx)
    if repo is None:
        return []
    out: dict[str, Deployed] = {}
    for ks in ctx.render.kustomizations:
        ks_obj = next(iter(ctx.find(KS_GROUP, "Kustomization", ks.namespace, ks.name)), None)
        for obj in ks.objects:
            rel = obj.source.file
            if rel and rel not in out and (found := _sops_file(ctx, repo, rel)) is not None:
                out[rel] = Deployed(found, obj, ks.id)
        if ks.path and ks.status.value == "rendered":
            for rel in _folder_sops_files(ctx, repo, ks.path):
                if rel not in out and (found := _sops_file(ctx, repo, rel)) is not None:
                    out[rel] = Deployed(found, ks_obj, ks.id)
    return [out[k] for k in sorted(out)]


def _violation(d: Deployed, message: str) -> Violation:
    return Violation(f"{d.file.path}: {message}", d.anchor, file=d.file.path, kustomization=d.kustomization)


@cluster_rule(
    "sops-recipients",
    Severity.high,
    hint="run `fluxfleet secrets rotate --env ENV` (or re-encrypt with `fluxfleet secrets encrypt`)",
    doc="a SOPS file deployed to an environment is not encrypted for that environment's age recipients",
    category=CAT,
)
def sops_recipients(ctx: ClusterContext) -> Iterator[Violation]:
    recipients: dict[str, tuple[str, ...]] = getattr(ctx.options, "age_recipients", {}) or {}
    env = ctx.environment
    if not recipients or env is None:
        return  # not a fleet with declared recipients: nothing to compare against
    required = {env: tuple(recipients.get(env, ()))}
    for d in deployed_sops_files(ctx):
        if d.file.info.other_keys and not d.file.info.recipients:
            continue  # PGP/KMS-only files: recipients are not age's business
        for problem in recipient_problems(d.file.info, required):
            yield _violation(d, problem.message + f" (cluster {ctx.cluster})")


@cluster_rule(
    "sops-flux-compat",
    Severity.high,
    hint="encrypt with encrypted_regex ^(data|stringData)$ (fluxfleet's .sops.yaml does) and never hand-edit values",
    doc="a SOPS Secret leaves data values in clear text, or encrypts apiVersion/kind/metadata (Flux cannot apply it)",
    category=CAT,
)
def sops_flux_compat(ctx: ClusterContext) -> Iterator[Violation]:
    repo = _repo(ctx)
    if repo is None:
        return
    # Clusters deploy the same files: parse and judge each file once per run.
    memo = _cache(ctx, "secrets.flux-compat")
    for d in deployed_sops_files(ctx):
        if d.file.file_type != "yaml":
            continue
        if d.file.path not in memo:
            memo[d.file.path] = _flux_compat_problems(_tree(ctx), repo, d.file.path)
        for message in memo[d.file.path]:
            yield _violation(d, message)


def _flux_compat_problems(tree: FileTree | None, repo: Path, rel: str) -> list[str]:
    # the revision being checked (a promotion's "after" tree is only in memory), else the disk
    try:
        docs = tree.docs(rel) if tree is not None else yamlio.load_file(repo / rel, rel)
    except (FleetError, OSError):
        return []
    return [
        problem.message
        for doc in docs
        if isinstance(doc, dict) and doc.get("kind") == "Secret"
        for problem in document_problems(doc, {})
    ]


@cluster_rule(
    "sops-mac",
    Severity.high,
    hint="the file was changed outside sops, or is encrypted for other keys; re-create it with `fluxfleet secrets edit`",
    doc="a SOPS file deployed to the cluster fails decryption or MAC verification with the given key files",
    category=CAT,
)
def sops_mac(ctx: ClusterContext) -> Iterator[Violation]:
    verify = getattr(ctx.options, "sops_verify", None)
    repo = _repo(ctx)
    if verify is None or repo is None:
        return
    tree = _tree(ctx)
    memo = _cache(ctx, "secrets.mac")
    for d in deployed_sops_files(ctx):
        rel = d.file.path
        if rel not in memo:
            try:
                data = tree.read(rel)[0] if tree is not None else safe_join(repo, rel).read_bytes()
            except (OSError, FleetError) as exc:
                memo[rel] = f"cannot read the file: {exc}"
            else:
                memo[rel] = verify(rel, data)
        message = memo[rel]
        if message:
            yield _violation(d, message)


# ---------------------------------------------------------------- External Secrets / SealedSecrets


def _store_refs(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    out: list[tuple[str, dict[str, Any]]] = []
    if isinstance(spec.get("secretStoreRef"), dict):
        out.append(("spec.secretStoreRef", spec["secretStoreRef"]))
    for i, item in enumerate(spec.get("dataFrom") or []):
        ref = ((item or {}).get("sourceRef") or {}).get("storeRef") if isinstance(item, dict) else None
        if isinstance(ref, dict):
            out.append((f"spec.dataFrom[{i}].sourceRef.storeRef", ref))
    for i, item in enumerate(spec.get("data") or []):
        ref = ((item or {}).get("sourceRef") or {}).get("storeRef") if isinstance(item, dict) else None
        if isinstance(ref, dict):
            out.append((f"spec.data[{i}].sourceRef.storeRef", ref))
    return out


def _store_allows(store: K8sObject, namespace: str) -> bool:
    """A ClusterSecretStore's ``spec.conditions[].namespaces`` (when listed) must include ``namespace``."""
    spec = store.body.get("spec") if isinstance(store.body.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    conditions = [c for c in spec.get("conditions") or [] if isinstance(c, dict)]
    listed = [c for c in conditions if c.get("namespaces") and not c.get("namespaceSelector")]
    if not conditions or len(listed) != len(conditions):
        return True  # no conditions, or label selectors this offline check cannot evaluate
    return any(namespace in (c.get("namespaces") or []) for c in listed)


@object_rule(
    "external-secret-store",
    Severity.high,
    hint="add the (Cluster)SecretStore to the cluster (`fluxfleet add secret-store`), or fix secretStoreRef",
    doc="an ExternalSecret names a SecretStore/ClusterSecretStore that this cluster does not define",
    category=CAT,
    kinds=("ExternalSecret",),
)
def external_secret_store(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    if obj.key.group != ESO_GROUP:
        return
    for field, ref in _store_refs(obj.body):
        name = str(ref.get("name") or "")
        kind = str(ref.get("kind") or "SecretStore")
        if not name:
            yield Violation(f"ExternalSecret {obj.key.name}: {field} has no name", obj)
            continue
        if kind == "ClusterSecretStore":
            stores = [s for s in ctx.of_kind("ClusterSecretStore", ESO_GROUP) if s.key.name == name]
            if not stores:
                yield Violation(
                    f"ExternalSecret {obj.key.name}: ClusterSecretStore {name!r} is not on this cluster", obj
                )
            elif not any(_store_allows(s, obj.key.namespace) for s in stores):
                yield Violation(
                    f"ExternalSecret {obj.key.name}: ClusterSecretStore {name!r} does not serve namespace "
                    f"{obj.key.namespace!r} (spec.conditions)",
                    obj,
                )
        elif kind == "SecretStore":
            if not ctx.exists(ESO_GROUP, "SecretStore", obj.key.namespace, name):
                yield Violation(
                    f"ExternalSecret {obj.key.name}: SecretStore {name!r} is not in namespace {obj.key.namespace!r}",
                    obj,
                )
        else:
            yield Violation(f"ExternalSecret {obj.key.name}: {field}.kind {kind!r} is not a store kind", obj)


def _source_doc(ctx: ClusterContext, obj: K8sObject) -> dict[str, Any] | None:
    """The document in the object's source file that produced it (same kind, name as written)."""
    repo, rel = _repo(ctx), obj.source.file
    if repo is None or not rel:
        return None
    memo = _cache(ctx, "secrets.source-docs")
    tree = _tree(ctx)
    if rel not in memo:
        try:
            docs = tree.docs(rel) if tree is not None else yamlio.load_file(safe_join(repo, rel), rel)
            memo[rel] = [d for d in docs if isinstance(d, dict)]
        except (FleetError, OSError):
            memo[rel] = []
    candidates = [d for d in memo[rel] if d.get("kind") == obj.key.kind]
    for d in candidates:
        name = str((d.get("metadata") or {}).get("name") or "")
        if name and (name == obj.key.name or obj.key.name.endswith(name) or obj.key.name.startswith(name)):
            return dict(d)
    return dict(candidates[0]) if len(candidates) == 1 else None


def _annotations(body: dict[str, Any]) -> dict[str, Any]:
    meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    ann = meta.get("annotations")
    return ann if isinstance(ann, dict) else {}


def _scope(body: dict[str, Any]) -> str:
    ann = _annotations(body)
    template = ((body.get("spec") or {}).get("template") or {}) if isinstance(body.get("spec"), dict) else {}
    ann = {**ann, **_annotations(template if isinstance(template, dict) else {})}
    if str(ann.get(SEALED_CLUSTER_WIDE, "")).lower() == "true":
        return "cluster-wide"
    if str(ann.get(SEALED_NAMESPACE_WIDE, "")).lower() == "true":
        return "namespace-wide"
    return "strict"


@object_rule(
    "sealed-secret-namespace",
    Severity.high,
    hint="re-seal it for the namespace it is deployed to (kubeseal --namespace NS), or seal it cluster-wide",
    doc="a SealedSecret is deployed to a namespace (or under a name) other than the one it was sealed for",
    category=CAT,
    kinds=("SealedSecret",),
)
def sealed_secret_namespace(obj: K8sObject, ctx: ClusterContext) -> Iterator[Violation]:
    if obj.key.group != SEALED_GROUP:
        return
    scope = _scope(obj.body)
    if scope == "cluster-wide":
        return
    deployed_ns = obj.key.namespace or "default"
    spec = obj.body.get("spec") if isinstance(obj.body.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    template_meta = (
        (spec.get("template") or {}).get("metadata") if isinstance(spec.get("template"), dict) else None
    )
    if isinstance(template_meta, dict) and template_meta.get("namespace") not in (None, deployed_ns):
        yield Violation(
            f"SealedSecret {obj.key.name}: spec.template.metadata.namespace {template_meta['namespace']!r} "
            f"differs from the namespace it is deployed to ({deployed_ns!r})",
            obj,
        )
    source = _source_doc(ctx, obj)
    if source is None:
        return
    meta = source.get("metadata") if isinstance(source.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    sealed_ns = meta.get("namespace")
    where = f" ({obj.source.file})" if obj.source.file else ""
    if not sealed_ns:
        yield Violation(
            f"SealedSecret {obj.key.name}{where} has no namespace in git; a {scope} SealedSecret only "
            f"decrypts in the namespace it was sealed for, so write that namespace ({deployed_ns!r}?) explicitly",
            obj,
        )
    elif sealed_ns != deployed_ns:
        yield Violation(
            f"SealedSecret {obj.key.name}{where} was sealed for namespace {sealed_ns!r} but is deployed to "
            f"{deployed_ns!r}; the controller will fail to decrypt it",
            obj,
        )
    if scope == "strict" and meta.get("name") and meta.get("name") != obj.key.name:
        yield Violation(
            f"SealedSecret {meta.get('name')!r}{where} is deployed as {obj.key.name!r} (a name prefix/suffix); "
            "a strict-scoped SealedSecret is bound to its name",
            obj,
        )


@cluster_rule(
    "flux-sops-non-secret",
    Severity.high,
    hint="set spec.decryption on the Kustomization, or keep only Secrets SOPS-encrypted",
    doc="a SOPS-encrypted object that is not a Secret is applied without spec.decryption (Flux applies the ciphertext)",
    category=CAT,
)
def flux_sops_non_secret(ctx: ClusterContext) -> Iterator[Violation]:
    for ks in ctx.render.kustomizations:
        if isinstance(ks.spec.get("decryption"), dict):
            continue
        for obj in ks.objects:
            meta = obj.body.get("sops")
            if (
                obj.key.kind != "Secret"
                and isinstance(meta, dict)
                and str(meta.get("mac") or "").startswith("ENC[")
            ):
                yield Violation(
                    f"{obj.key} is SOPS-encrypted but Kustomization {ks.id} has no spec.decryption",
                    obj,
                    kustomization=ks.id,
                )
