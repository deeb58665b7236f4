"""Promotion commands: ``versions``, ``promote``, ``rollout status``, ``rollback``, ``history``.

Exit codes: 0 done (or nothing to do); 2 bad input or a git/remote failure (nothing changed);
3 refused by a gate (nothing changed; fix it, wait for soak, or ``--force REASON``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fluxfleet.cli.common import OutputOpt, RepoOpt, echo, stderr
from fluxfleet.errors import FleetError
from fluxfleet.output import Format, structured
from fluxfleet.promote import DEFAULT_RETRIES

if TYPE_CHECKING:
    from fluxfleet.fleet.load import Fleet
    from fluxfleet.promote.evidence import ServiceEvidence
    from fluxfleet.promote.plan import Change
    from fluxfleet.usecases.promote import PreviewFn, PromoteResult

ApproveOpt = Annotated[bool, typer.Option("--approve", help="Approve (recorded with your identity).")]
ApproverOpt = Annotated[
    str | None, typer.Option("--approver", help="Approver identity (default: git config user.name <email>).")
]
ForceOpt = Annotated[
    str | None,
    typer.Option(
        "--force",
        metavar="[GATES=]REASON",
        help="Override failed gates (all, or the ones named: soak=REASON); the reason is recorded in the "
        "commit. With a fleet service, overriding health or approval needs the admin role.",
    ),
]
ServiceOpt = Annotated[
    str | None,
    typer.Option(
        "--service",
        metavar="URL",
        help="Fleet service for the health, soak and approval gates (default: spec.service.url; "
        "token from $FLUXFLEET_TOKEN).",
    ),
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Show the preview and gates; change nothing.")]
PushOpt = Annotated[
    bool, typer.Option("--push", help="Push to the remote (fetch, re-apply and retry on races).")
]
BranchOpt = Annotated[
    bool | None,
    typer.Option(
        "--branch/--direct",
        help="Commit to a promotion branch (pull-request flow) or the current branch "
        "(default: the environment's promotion.mode).",
    ),
]
RemoteOpt = Annotated[str, typer.Option("--remote", help="Remote to push to.")]
SkipChecksOpt = Annotated[
    str | None,
    typer.Option(
        "--skip-checks",
        metavar="REASON",
        help="Skip the rendered diff and the checks gate; the reason is recorded in the commit.",
    ),
]
RetriesOpt = Annotated[
    int,
    typer.Option(
        "--retries", min=0, max=100, help="Re-apply attempts when the push races (jittered backoff)."
    ),
]
# Hidden: decide as if it were this moment (windows, freezes, soak); for scripts and tests.
NowOpt = Annotated[str | None, typer.Option("--now", envvar="FLUXFLEET_NOW", hidden=True)]


def _preview_printer(fmt: Format) -> PreviewFn:
    from fluxfleet.promote import preview

    def show(change: Change, attempt: int, fleet: Fleet) -> None:
        if fmt is not Format.text:
            if change.refused:  # the refusal ends the command: say why in the requested format
                data = preview.as_dict(change, fleet)
                data["refused"] = [r.as_dict() for r in change.refused]
                echo(structured(data, fmt))
            return
        if attempt > 1:
            stderr().print(f"re-checked on new head {change.base[:10]} (attempt {attempt})", highlight=False)
            return
        echo(preview.render_text(change, fleet))

    return show


def _finish(result: PromoteResult, fmt: Format) -> None:
    from fluxfleet.promote import preview

    outcome = result.outcome
    change = outcome.change
    if fmt is not Format.text:
        data = preview.as_dict(change, result.fleet)
        data.update(
            {
                "commit": outcome.commit,
                "pushed": outcome.pushed,
                "branch": outcome.branch,
                "attempts": outcome.attempts,
                "dryRun": outcome.dry_run,
            }
        )
        echo(structured(data, fmt))
        return
    for line in outcome.log:
        stderr().print(line, highlight=False)
    if change.noop:
        return
    if outcome.dry_run:
        echo("dry run: nothing changed")
    elif outcome.branch:
        where = f", pushed to {outcome.pushed}" if outcome.pushed else ""
        echo(f"committed {outcome.commit and outcome.commit[:10]} on branch {outcome.branch}{where}")
        echo("open a pull request from it to promote")
    else:
        where = f", pushed to {outcome.pushed}" if outcome.pushed else ""
        echo(f"committed {outcome.commit and outcome.commit[:10]}: {change.subject}{where}")


def register(app: typer.Typer) -> None:
    rollout = typer.Typer(help="Where a wave rollout stands.", no_args_is_help=True)
    app.add_typer(rollout, name="rollout")

    @app.command("versions")
    def versions(
        name: Annotated[str | None, typer.Argument(metavar="[APP]", help="Only this app.")] = None,
        repo: RepoOpt = Path("."),
        output: OutputOpt = Format.text,
    ) -> None:
        """Show each app's version per environment (and per cluster while a rollout is in progress)."""
        from fluxfleet.promote import report
        from fluxfleet.usecases import ledger as read_side
        from fluxfleet.usecases.workspace import Workspace

        data = read_side.version_matrix(Workspace.open(repo), name)
        echo(report.matrix_text(data) if output is Format.text else structured(data, output))

    @app.command("promote")
    def promote(
        name: Annotated[str, typer.Argument(metavar="APP", help="The app to promote.")],
        to: Annotated[str, typer.Option("--to", help="Target environment.")],
        version: Annotated[
            str | None,
            typer.Option("--version", help="Version (image tag); default: the previous environment's."),
        ] = None,
        approve: ApproveOpt = False,
        approver: ApproverOpt = None,
        force: ForceOpt = None,
        health_evidence: Annotated[
            Path | None, typer.Option("--health-evidence", help="Health evidence file for the health gate.")
        ] = None,
        dry_run: DryRunOpt = False,
        push: PushOpt = False,
        branch: BranchOpt = None,
        remote: RemoteOpt = "origin",
        retries: RetriesOpt = DEFAULT_RETRIES,
        skip_checks: SkipChecksOpt = None,
        service: ServiceOpt = None,
        repo: RepoOpt = Path("."),
        output: OutputOpt = Format.text,
        now: NowOpt = None,
    ) -> None:
        """Promote APP into an environment (one wave at a time), as one commit with trailers."""
        from fluxfleet.promote.health import EvidenceFile
        from fluxfleet.promote.plan import PromoteRequest
        from fluxfleet.usecases import promote as usecases
        from fluxfleet.usecases.clock import clock_at
        from fluxfleet.usecases.promote import Delivery, PromoteCommand

        _check_force(force)
        health = EvidenceFile(health_evidence, str(health_evidence)) if health_evidence else None
        evidence = service_evidence(repo, service)
        req = PromoteRequest(name, to, version, approve, approver, force, health, evidence)
        command = PromoteCommand(repo, req, Delivery(dry_run, push, branch, remote, retries), skip_checks)
        _finish(usecases.promote_app(command, clock=clock_at(now), preview=_preview_printer(output)), output)

    @rollout.command("status")
    def rollout_status(
        name: Annotated[str, typer.Argument(metavar="APP")],
        env: Annotated[str, typer.Option("--env", help="Environment.")],
        repo: RepoOpt = Path("."),
        output: OutputOpt = Format.text,
        now: NowOpt = None,
    ) -> None:
        """Show the waves of APP in an environment: done, next, pending, and soak."""
        from fluxfleet.promote import report
        from fluxfleet.usecases import ledger as read_side
        from fluxfleet.usecases.clock import clock_at
        from fluxfleet.usecases.workspace import Workspace

        data = read_side.rollout_status(Workspace.open(repo), name, env, clock=clock_at(now))
        echo(report.rollout_text(data) if output is Format.text else structured(data, output))

    @app.command("rollback")
    def rollback(
        name: Annotated[str | None, typer.Argument(metavar="[APP]", help="The app to roll back.")] = None,
        env: Annotated[str | None, typer.Option("--env", help="Environment.")] = None,
        to: Annotated[
            str | None, typer.Option("--to", help="Version to restore (default: the previous good one).")
        ] = None,
        revert: Annotated[
            str | None,
            typer.Option("--revert", metavar="COMMIT", help="Revert exactly this promotion commit."),
        ] = None,
        mark_bad: Annotated[
            bool, typer.Option("--mark-bad/--no-mark-bad", help="Mark the version rolled back from as bad.")
        ] = True,
        approve: ApproveOpt = False,
        approver: ApproverOpt = None,
        force: ForceOpt = None,
        dry_run: DryRunOpt = False,
        push: PushOpt = False,
        branch: BranchOpt = None,
        remote: RemoteOpt = "origin",
        retries: RetriesOpt = DEFAULT_RETRIES,
        skip_checks: SkipChecksOpt = None,
        repo: RepoOpt = Path("."),
        output: OutputOpt = Format.text,
        now: NowOpt = None,
    ) -> None:
        """Restore an earlier version of APP in an environment (or revert one promotion commit)."""
        from fluxfleet.promote.plan import RollbackRequest
        from fluxfleet.usecases import promote as usecases
        from fluxfleet.usecases.clock import clock_at
        from fluxfleet.usecases.promote import Delivery, RevertCommand, RollbackCommand

        _check_force(force)
        delivery = Delivery(dry_run, push, branch, remote, retries)
        clock, show = clock_at(now), _preview_printer(output)
        if revert is not None:
            if to is not None:
                raise FleetError("--revert and --to exclude each other")
            command = RevertCommand(repo, revert, approve, approver, force, delivery, skip_checks)
            _finish(usecases.revert_promotion(command, clock=clock, preview=show), output)
            return
        if name is None or env is None:
            raise FleetError("rollback needs APP and --env ENV (or --revert COMMIT)")
        req = RollbackRequest(name, env, to, approve, approver, force, mark_bad)
        rollback_command = RollbackCommand(repo, req, delivery, skip_checks)
        _finish(usecases.rollback_app(rollback_command, clock=clock, preview=show), output)

    @app.command("history")
    def history_cmd(
        name: Annotated[str | None, typer.Argument(metavar="[APP]", help="Only this app.")] = None,
        env: Annotated[str | None, typer.Option("--env", help="Only this environment.")] = None,
        limit: Annotated[
            int | None, typer.Option("--limit", "-n", min=1, help="At most this many entries.")
        ] = None,
        repo: RepoOpt = Path("."),
        output: OutputOpt = Format.text,
    ) -> None:
        """List promotions, rollbacks and reverts from the commit trailers (newest first)."""
        from fluxfleet.promote import report
        from fluxfleet.usecases import ledger as read_side
        from fluxfleet.usecases.workspace import Workspace

        records = read_side.history(Workspace.open(repo), app=name, env=env, limit=limit)
        if output is Format.text:
            echo(report.history_text(records))
        else:
            echo(structured({"entries": [r.as_dict() for r in records]}, output))


def service_evidence(repo: Path, url: str | None) -> ServiceEvidence | None:
    """The fleet service named by --service or fleet.yaml, with the token from the environment."""
    from fluxfleet.promote.evidence import ServiceEvidence
    from fluxfleet.usecases.workspace import Workspace

    if url is None:
        ws = Workspace.open(repo)
        fleet = ws.fleet_or_none()
        url = fleet.service.url if fleet is not None and fleet.service else None
    if url is None:
        return None
    token = os.environ.get("FLUXFLEET_TOKEN", "").strip()
    if not token:
        raise FleetError(
            f"the fleet service {url} needs a token",
            hint="set FLUXFLEET_TOKEN (create one with `fluxfleet serve token`)",
        )
    return ServiceEvidence(url, token)


def _check_force(force: str | None) -> None:
    if force is not None and not force.strip():
        raise FleetError("--force needs a reason", hint='--force "hotfix for INC-1234"')
