"""The rendered side of a preview: compare the renders of the affected clusters before and after
the change and the checks on both. Findings at or above the policy's ``failOn`` that the change
introduces make the ``checks`` gate fail.

Rendering and setting the checks up is the caller's (the promote use case renders two Workspaces
and checks them with the one CheckSetup ``fluxfleet check`` uses); this module only judges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fluxfleet.check.model import CheckResult, Severity
from fluxfleet.errors import FleetError
from fluxfleet.generate.layout import kustomization_teams
from fluxfleet.promote import gates as g
from fluxfleet.promote.context import Context
from fluxfleet.promote.plan import Change
from fluxfleet.render.model import ClusterRender

GateOutcome = tuple[g.GateResult, list[str], dict[str, Any]]


@dataclass(frozen=True)
class Verified:
    """Renders and check results of the affected clusters before and after a change."""

    before: list[ClusterRender]
    after: list[ClusterRender]
    old_result: CheckResult
    new_result: CheckResult
    threshold: Severity


# Renders and checks the change (raises FleetError when it cannot be rendered).
Verifier = Callable[[Context, Change], Verified]


def _finding_key(f: Any) -> tuple[Any, ...]:
    return (f.rule, f.cluster, str(f.object), f.message)


def render_and_check(ctx: Context, change: Change, verify: Verifier) -> GateOutcome:
    """The ``checks`` gate, preview lines, and structured data for ``-o json``."""
    if not change.clusters:
        return g.GateResult("checks", g.Status.skipped, "no cluster changes"), [], {}
    from fluxfleet.diff.compare import compare
    from fluxfleet.diff.report import as_data, as_text

    try:
        verified = verify(ctx, change)
    except FleetError as exc:
        return (
            g.GateResult("checks", g.Status.failed, f"could not render the change: {exc.message}"),
            [f"Rendered diff: unavailable ({exc.message})"],
            {"renderError": exc.message},
        )
    before, after, threshold = verified.before, verified.after, verified.threshold
    old_result, new_result = verified.old_result, verified.new_result
    teams = kustomization_teams(ctx.fleet)
    diff = compare(
        before, after, base_label="HEAD", head_label=change.action, team_of=lambda ks: teams.get(ks or "")
    )
    old_failing = {_finding_key(f) for f in old_result.failing(threshold)}
    new_failing = [f for f in new_result.failing(threshold) if _finding_key(f) not in old_failing]
    old_errors = {(e.cluster, e.message) for r in before for e in r.errors}
    new_errors = [e for r in after for e in r.errors if (e.cluster, e.message) not in old_errors]

    lines = ["Rendered diff:"]
    lines += ["  " + line for line in as_text(diff, full=False).rstrip("\n").splitlines()[1:] if line]
    lines.append(f"Checks (fail at {threshold.value} or above) on {len(after)} cluster(s):")
    for e in new_errors:
        lines.append(f"  render error: {e}")
    for f in new_failing:
        lines.append(f"  {f.severity.value:8} {f.rule} {f.cluster}: {f.message}")
    kept = len(new_result.failing(threshold)) - len(new_failing)
    lines.append(
        f"  {len(new_failing)} new failing finding(s), {len(new_errors)} new render error(s)"
        + (f"; {kept} failing before already" if kept else "")
    )
    data = {
        "diff": as_data(diff, [e for r in after for e in r.errors]),
        "checks": {
            "threshold": threshold.value,
            "newFailing": [
                {"rule": f.rule, "severity": f.severity.value, "cluster": f.cluster, "message": f.message}
                for f in new_failing
            ],
            "newRenderErrors": [str(e) for e in new_errors],
        },
    }
    if new_failing or new_errors:
        evidence = (
            f"{len(new_failing)} new finding(s) at {threshold.value}+, {len(new_errors)} new render error(s)"
        )
        return g.GateResult("checks", g.Status.failed, evidence), lines, data
    changed = sum(1 for c in diff.clusters if c.changes)
    return (
        g.GateResult(
            "checks", g.Status.passed, f"{changed} cluster(s) render changes; no new failing checks"
        ),
        lines,
        data,
    )


def attach(
    ctx: Context, change: Change, force: str | None, skip_reason: str | None, verify: Verifier
) -> Change:
    """Add the ``checks`` gate and the rendered preview to a planned change.

    Skipping it takes a reason, like forcing a gate does, and the reason goes into the commit.
    """
    if change.noop:
        return change
    if skip_reason is not None:
        if not skip_reason.strip():
            raise FleetError(
                "--skip-checks needs a reason", hint='e.g. --skip-checks "render tooling is down"'
            )
        change.gates.append(
            g.GateResult("checks", g.Status.skipped, f"not rendered or checked: {skip_reason}")
        )
        change.skipped_checks_reason = skip_reason
        return change
    gate, lines, data = render_and_check(ctx, change, verify)
    change.gates += g.apply_force([gate], force)
    if gate.status is g.Status.failed and force:
        change.forced_reason = force
    change.rendered = lines
    change.rendered_data = data
    return change
