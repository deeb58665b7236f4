"""The edge of the generator: reads the fleet and the flux components, plans, compares, writes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from fluxfleet import proc, yamlio
from fluxfleet.errors import FleetError
from fluxfleet.fleet.load import Fleet, load_fleet
from fluxfleet.fleet.placement import Placement, place
from fluxfleet.fsutil import safe_join
from fluxfleet.generate import txn
from fluxfleet.generate.apply import Changes, apply_changes, compute_changes, remember
from fluxfleet.generate.layout import HEADER_PREFIX, cluster_dirs
from fluxfleet.generate.plan import COMPONENTS_SUFFIX, GeneratePlan, build_plan


@dataclass(frozen=True)
class GenerateResult:
    fleet: Fleet
    placement: Placement
    plan: GeneratePlan
    changes: Changes
    warnings: list[str]
    moves: list[ClusterMove] = field(default_factory=list)


@dataclass(frozen=True)
class ClusterMove:
    """A cluster folder that a write would delete: a live cluster syncs it by path."""

    folder: str
    clusters: tuple[str, ...]  # clusters whose new folder lies under it (empty: a removed cluster)

    def steps(self, dirs: dict[str, str]) -> list[str]:
        """What to run so a live cluster follows its folder (before pushing the commit)."""
        out: list[str] = []
        for name in self.clusters:
            patch = json.dumps({"spec": {"path": f"./{dirs[name]}"}}, separators=(",", ":"))
            out += [
                f"{name}: flux suspend kustomization flux-system --context {name}",
                f"{name}: kubectl --context {name} -n flux-system patch kustomization flux-system "
                f"--type=merge -p '{patch}'",
                f"{name}: (push the commit), then: flux resume kustomization flux-system --context {name}",
            ]
        if not self.clusters:
            out.append(f"{self.folder}: uninstall Flux from the cluster that syncs it (flux uninstall) first")
        return out


def flux_components_text(repo: Path, fleet: Fleet, components_file: Path | None) -> str | None:
    """The `flux install --export` manifests, or None for the placeholder.

    Sources, first match wins: ``--flux-components FILE``; fleet.yaml ``spec.flux.components``
    (``file`` inside the repository, or ``version`` through the local `flux` binary). Nothing is
    taken from whatever `flux` happens to be installed unless fleet.yaml asks for it: the same
    fleet.yaml must generate the same files on every machine.
    """
    if components_file is not None:
        return _checked(yamlio.read_text(components_file), str(components_file))
    recorded = fleet.flux.components
    if recorded is None or recorded.placeholder:
        return None
    if recorded.file:
        path = safe_join(repo, recorded.file, field="spec.flux.components.file")
        if not path.is_file():
            raise FleetError(
                f"spec.flux.components.file {recorded.file!r} does not exist",
                file=fleet.file,
                field="spec.flux.components.file",
                hint="save `flux install --export` output there, or set `placeholder: true`",
            )
        return _checked(yamlio.read_text(path, display=recorded.file), recorded.file)
    flux = proc.find_tool("flux")
    if flux is None:
        raise FleetError(
            f"spec.flux.components.version {recorded.version!r} needs the `flux` CLI, which is not installed",
            file=fleet.file,
            field="spec.flux.components.version",
            hint="install flux, or record a saved `flux install --export` output as `file:`",
        )
    version = f"v{recorded.version.removeprefix('v')}" if recorded.version else ""
    argv = [flux, "install", "--export", f"--version={version}"]
    if any(app.automation is not None for app in fleet.apps):
        # without these the image.toolkit CRDs are missing and the flux-system apply fails as a whole
        argv.append("--components-extra=image-reflector-controller,image-automation-controller")
    return _checked(proc.run(argv, timeout=120, what="flux install --export").text, "flux install --export")


def _checked(text: str, display: str) -> str:
    yamlio.load_all(text, display)  # refuse a broken file before it lands in every cluster
    return text


def is_placeholder(text: str) -> bool:
    """True for a comment-only gotk-components.yaml (what Flux and kustomize treat as empty)."""
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())


def keep_real_components(repo: Path, plan: GeneratePlan) -> tuple[GeneratePlan, list[str]]:
    """Never let the placeholder replace real Flux controllers already in the repository.

    The flux-system Kustomization prunes: a gotk-components.yaml emptied by a later ``generate``
    would make kustomize-controller delete Flux's own controllers and CRDs (and every custom
    resource with them).
    """
    generated = dict(plan.generated)
    kept: list[str] = []
    for path, content in plan.generated.items():
        if not path.endswith(COMPONENTS_SUFFIX) or not is_placeholder(content.split("\n", 1)[1]):
            continue
        target = safe_join(repo, path)
        if not target.is_file():
            continue
        try:
            current = target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if current.startswith(HEADER_PREFIX) and not is_placeholder(current):
            generated[path] = current
            kept.append(path)
    if kept:
        return GeneratePlan(generated=generated, scaffolds=plan.scaffolds), kept
    return plan, kept


def plan_for(fleet: Fleet, placement: Placement, components: str | None) -> GeneratePlan:
    from fluxfleet.generate import alerts, image_automation, service_wiring, sops_rules, tenants

    tenant_files = tenants.plan_tenants(fleet, placement)
    automation_files, automation_folders = image_automation.plan_image_automation(fleet, placement)
    extra = {
        **tenant_files,
        **sops_rules.plan_sops_rules(fleet),
        **alerts.plan_alerts(fleet, placement),
        **automation_files,
        **service_wiring.plan_service_wiring(fleet),
    }
    resources = tenants.cluster_resources(fleet, placement)
    for name, folders in [
        *alerts.cluster_resources(fleet).items(),
        *automation_folders.items(),
        *service_wiring.cluster_resources(fleet).items(),
    ]:
        resources[name] = [*resources.get(name, []), *folders]
    return build_plan(
        fleet,
        placement,
        flux_components=components,
        extra_generated=extra,
        flux_system_patches=tenants.flux_system_patches(fleet),
        cluster_resources=resources,
    )


def generate(
    repo: Path,
    *,
    fleet_file: Path | None = None,
    components_file: Path | None = None,
    write: bool = True,
    allow_move: bool = False,
    fleet: Fleet | None = None,
) -> GenerateResult:
    """``fleet``: already loaded from ``repo`` (a Workspace's); read from disk when not given."""
    fleet = fleet if fleet is not None else load_fleet(repo, fleet_file)
    placement = place(fleet)
    plan = plan_for(fleet, placement, flux_components_text(repo, fleet, components_file))
    plan, kept = keep_real_components(repo, plan)
    warnings = placement.warnings()
    if kept:
        warnings.append(
            f"kept the real Flux components in {len(kept)} gotk-components.yaml file(s) instead of the "
            "placeholder (record their source in fleet.yaml: spec.flux.components.file or .version)"
        )
    if write:
        # Before comparing: an interrupted run's files are either all in place or none are.
        txn.recover(repo)
    changes = compute_changes(repo, plan)
    moves = cluster_moves(repo, changes, cluster_dirs(fleet))
    # A removed cluster was the user's decision; a folder moving under a live cluster is not.
    if any(m.clusters for m in moves) and write and not allow_move:
        raise _refuse_move(fleet, [m for m in moves if m.clusters])
    if write:
        if changes.pending:
            try:
                apply_changes(repo, plan, changes)
            except OSError as exc:
                raise FleetError(f"could not write the generated files: {exc}") from None
        remember(repo, plan, changes)
    return GenerateResult(fleet, placement, plan, changes, warnings, moves)


SYNC_SUFFIX = "/flux-system/gotk-sync.yaml"


def cluster_moves(repo: Path, changes: Changes, dirs: dict[str, str]) -> list[ClusterMove]:
    """Generated cluster folders the plan would delete (their gotk-sync.yaml goes away)."""
    out = []
    for path in changes.deleted:
        if path.endswith(SYNC_SUFFIX):
            folder = path.removesuffix(SYNC_SUFFIX)
            moved = sorted(n for n, d in dirs.items() if d.startswith(folder + "/"))
            live = _synced_by(repo, folder, changes.deleted)
            out.append(ClusterMove(folder, (live,) if live in moved else tuple(moved)))
    return out


def _synced_by(repo: Path, folder: str, deleted: list[str]) -> str | None:
    """The cluster a generated folder was written for (its CLUSTER_NAME substitution), if known."""
    for path in deleted:
        if not path.startswith(folder + "/") or not path.endswith(".yaml") or "/flux-system/" in path:
            continue
        try:
            docs = yamlio.load_file(safe_join(repo, path))
        except FleetError:
            continue
        for doc in docs:
            spec = doc.get("spec") if isinstance(doc, dict) else None
            subst = (
                ((spec or {}).get("postBuild") or {}).get("substitute") if isinstance(spec, dict) else None
            )
            if isinstance(subst, dict) and isinstance(subst.get("CLUSTER_NAME"), str):
                return str(subst["CLUSTER_NAME"])
    return None


def _refuse_move(fleet: Fleet, moves: list[ClusterMove]) -> FleetError:
    what = "; ".join(
        f"{m.folder} (now {', '.join(m.clusters)} under it)"
        if m.clusters
        else f"{m.folder} (no cluster left)"
        for m in moves
    )
    return FleetError(
        f"this would move or remove cluster folders that live clusters sync: {what}",
        file=fleet.file,
        field="spec.clusters",
        hint="give the new cluster its own `path:` in fleet.yaml so the existing folder stays, "
        "or pass --move to move it (generate then prints the steps for each live cluster)",
    )
