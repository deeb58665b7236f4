"""The rendered side of a preview: render the affected clusters before and after the change,
summarise the diff, and run the checks on the result. Findings at or above the policy's
``failOn`` that the change introduces make the ``checks`` gate fail.

The "after" tree is a temporary copy of HEAD with the planned files written into it (for a
revert, the reverse patch applied), so the repository itself is never touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fluxfleet.errors import FleetError
from fluxfleet.fsutil import safe_join, write_plan
from fluxfleet.generate.layout import kustomization_teams
from fluxfleet.gitrepo.git import Git
from fluxfleet.promote import gates as g
from fluxfleet.promote.context import Context
from fluxfleet.promote.plan import Change


@contextmanager
def _after_tree(ctx: Context, change: Change) -> Iterator[Path]:
    from fluxfleet.gitrepo.tree import checkout

    with checkout(ctx.git.toplevel, ctx.head) as top:
        root = top / ctx.git.prefix if ctx.git.prefix else top
        if change.reverts:
            patch = ctx.git.run("diff-tree", "-p", "--binary", "--end-of-options", change.reverts).stdout
            Git(top, exe=ctx.git.exe).run("apply", "-R", "-", input=patch)
        else:
            write_plan(root, change.files)
        yield root


def _finding_key(f: Any) -> tuple[Any, ...]:
    return (f.rule, f.cluster, str(f.object), f.message)


def _check_options(ctx: Context) -> Any:
    from fluxfleet.check.context import CheckOptions
    from fluxfleet.check.rules.secrets_sops import secrets_options

    fleet = ctx.fleet

    def exists(rel: str) -> bool:
        try:
            return safe_join(ctx.repo, rel.removeprefix("./") or ".").exists()
        except FleetError:
            return False

    return CheckOptions(
        policy=fleet.policy,
        kubernetes_version=fleet.policy.kubernetes_version,
        flux_version=fleet.policy.flux_version or "2.9",
        path_exists=exists,
        environment={c.name: c.environment for c in fleet.clusters},
        tenant_namespaces=frozenset(t.name for t in fleet.teams),
        **secrets_options(ctx.repo, fleet),
    )


def render_and_check(ctx: Context, change: Change) -> tuple[g.GateResult, list[str], dict[str, Any]]:
    """The ``checks`` gate, preview lines, and structured data for ``-o json``."""
    names = list(change.clusters)
    if not names:
        return g.GateResult("checks", g.Status.skipped, "no cluster changes"), [], {}
    try:
        from fluxfleet.check.engine import run_checks
        from fluxfleet.check.model import Severity
        from fluxfleet.diff.compare import compare
        from fluxfleet.diff.report import as_data, as_text
        from fluxfleet.render.api import RenderOptions, RenderSession

        with RenderSession(RenderOptions()) as session:
            before = session.render(ctx.repo, names=names)
            with _after_tree(ctx, change) as root:
                after = session.render(root, names=names, source_root=ctx.repo)
        teams = kustomization_teams(ctx.fleet)
        diff = compare(
            before, after, base_label="HEAD", head_label=change.action, team_of=lambda ks: teams.get(ks or "")
        )
        threshold = Severity(ctx.fleet.policy.fail_on)
        old_result = run_checks(before, _check_options(ctx))
        new_result = run_checks(after, _check_options(ctx))
    except FleetError as exc:
        return (
            g.GateResult("checks", g.Status.failed, f"could not render the change: {exc.message}"),
            [f"Rendered diff: unavailable ({exc.message})"],
            {"renderError": exc.message},
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


def attach(ctx: Context, change: Change, force: str | None, skip_reason: str | None) -> Change:
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
    gate, lines, data = render_and_check(ctx, change)
    change.gates += g.apply_force([gate], force)
    if gate.status is g.Status.failed and force:
        change.forced_reason = force
    change.rendered = lines
    change.rendered_data = data
    return change
