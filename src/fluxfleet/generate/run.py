"""The edge of the generator: reads the fleet and the flux components, plans, compares, writes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fluxfleet import proc, yamlio
from fluxfleet.errors import FleetError
from fluxfleet.fleet.load import Fleet, load_fleet
from fluxfleet.fleet.placement import Placement, place
from fluxfleet.generate import txn
from fluxfleet.generate.apply import Changes, apply_changes, compute_changes, remember
from fluxfleet.generate.plan import GeneratePlan, build_plan


@dataclass(frozen=True)
class GenerateResult:
    fleet: Fleet
    placement: Placement
    plan: GeneratePlan
    changes: Changes
    warnings: list[str]


def flux_components_text(components_file: Path | None) -> str | None:
    """The `flux install --export` manifests: from a file, from a `flux` binary, or None."""
    if components_file is not None:
        text = yamlio.read_text(components_file)
        yamlio.load_all(text, str(components_file))  # refuse a broken file before it lands in 9 clusters
        return text
    flux = proc.find_tool("flux")
    if flux is None:
        return None
    return proc.run([flux, "install", "--export"], timeout=120, what="flux install --export").text


def plan_for(fleet: Fleet, placement: Placement, components: str | None) -> GeneratePlan:
    from fluxfleet.generate import sops_rules, tenants

    tenant_files = tenants.plan_tenants(fleet, placement)
    extra = {**tenant_files, **sops_rules.plan_sops_rules(fleet)}
    return build_plan(
        fleet,
        placement,
        flux_components=components,
        extra_generated=extra,
        flux_system_patches=tenants.flux_system_patches(fleet),
        cluster_resources=tenants.cluster_resources(fleet, placement),
    )


def generate(
    repo: Path,
    *,
    fleet_file: Path | None = None,
    components_file: Path | None = None,
    write: bool = True,
) -> GenerateResult:
    fleet = load_fleet(repo, fleet_file)
    placement = place(fleet)
    plan = plan_for(fleet, placement, flux_components_text(components_file))
    if write:
        # Before comparing: an interrupted run's files are either all in place or none are.
        txn.recover(repo)
    changes = compute_changes(repo, plan)
    if write:
        if changes.pending:
            try:
                apply_changes(repo, plan, changes)
            except OSError as exc:
                raise FleetError(f"could not write the generated files: {exc}") from None
        remember(repo, plan, changes)
    return GenerateResult(fleet, placement, plan, changes, placement.warnings())
