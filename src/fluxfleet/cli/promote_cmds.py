"""Promotion commands: ``versions``, ``promote``, ``rollout status``, ``rollback``, ``history``.

Exit codes: 0 done (or nothing to do); 2 bad input or a git/remote failure (nothing changed);
3 refused by a gate (nothing changed; fix it, wait for soak, or ``--force REASON``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from fluxfleet.cli.common import OutputOpt, RepoOpt, echo, stderr
from fluxfleet.errors import FleetError
from fluxfleet.fleet.load import FLEET_FILE, load_fleet
from fluxfleet.fleet.placement import place
from fluxfleet.gitrepo.git import Git
from fluxfleet.output import Format, structured
from fluxfleet.promote import apply, ledger, preview, report, verify
from fluxfleet.promote import gates as g
from fluxfleet.promote.context import Context
from fluxfleet.promote.health import EvidenceFile
from fluxfleet.promote.plan import Change, PromoteRequest, RollbackRequest, plan_promote, plan_rollback
from fluxfleet.promote.revert import apply_revert, plan_revert

ApproveOpt = Annotated[bool, typer.Option("--approve", help="Approve (recorded with your identity).")]
ApproverOpt = Annotated[
    str | None, typer.Option("--approver", help="Approver identity (default: git config user.name <email>).")
]
ForceOpt = Annotated[
    str | None,
    typer.Option(
        "--force", metavar="REASON", help="Override failed gates; the reason is recorded in the commit."
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


def _preview_printer(fmt: Format, repo: Path) -> apply.Preview:
    def show(change: Change, attempt: int) -> None:
        if fmt is not Format.text:
            if change.refused:  # the refusal ends the command: say why in the requested format
                data = preview.as_dict(change, load_fleet(repo))
                data["refused"] = [r.as_dict() for r in change.refused]
                echo(structured(data, fmt))
            return
        if attempt > 1:
            stderr().print(f"re-checked on new head {change.base[:10]} (attempt {attempt})", highlight=False)
            return
        echo(preview.render_text(change, load_fleet(repo)))

    return show


def _finish(outcome: apply.Outcome, fmt: Format, repo: Path) -> None:
    change = outcome.change
    if fmt is not Format.text:
        data = preview.as_dict(change, load_fleet(repo))
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


def _branch_mode(repo: Path, env: str | None, flag: bool | None) -> bool:
    if flag is not None:
        return flag
    if env is None:
        return False
    return load_fleet(repo).env(env).promotion.mode == "branch"


def _run_planned(
    repo: Path,
    planner: Callable[[Context], Change],
    app_name: str,
    env: str,
    dry_run: bool,
    push: bool,
    branch: bool | None,
    remote: str,
    retries: int,
    output: Format,
) -> None:
    """Plan, preview, gate, commit (and push) one promotion or rollback of ``app_name`` in ``env``."""
    outcome = apply.run(
        repo,
        planner,
        app=app_name,
        dry_run=dry_run,
        options=apply.PushOptions(push, _branch_mode(repo, env, branch), remote, retries),
        preview=_preview_printer(output, repo),
    )
    _finish(outcome, output, repo)


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
        fleet = load_fleet(repo)
        records = ledger.load(Git(repo), app=name) if _in_git(repo) else []
        data = report.version_matrix(repo, fleet, place(fleet), records, name)
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
        retries: RetriesOpt = apply.DEFAULT_RETRIES,
        skip_checks: SkipChecksOpt = None,
        repo: RepoOpt = Path("."),
        output: OutputOpt = Format.text,
    ) -> None:
        """Promote APP into an environment (one wave at a time), as one commit with trailers."""
        _check_force(force)
        health = EvidenceFile(health_evidence, str(health_evidence)) if health_evidence else None
        req = PromoteRequest(name, to, version, approve, approver, force, health)

        def planner(ctx: Context) -> Change:
            return verify.attach(ctx, plan_promote(ctx, req), force, skip_checks)

        _run_planned(repo, planner, name, to, dry_run, push, branch, remote, retries, output)

    @rollout.command("status")
    def rollout_status(
        name: Annotated[str, typer.Argument(metavar="APP")],
        env: Annotated[str, typer.Option("--env", help="Environment.")],
        repo: RepoOpt = Path("."),
        output: OutputOpt = Format.text,
    ) -> None:
        """Show the waves of APP in an environment: done, next, pending, and soak."""
        fleet = load_fleet(repo)
        from fluxfleet.promote.state import env_state

        state = env_state(repo, fleet, place(fleet), name, env)
        records = ledger.load(Git(repo), app=name, env=env) if _in_git(repo) else []
        data = report.rollout_status(state, fleet, records, g.now_utc())
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
        retries: RetriesOpt = apply.DEFAULT_RETRIES,
        skip_checks: SkipChecksOpt = None,
        repo: RepoOpt = Path("."),
        output: OutputOpt = Format.text,
    ) -> None:
        """Restore an earlier version of APP in an environment (or revert one promotion commit)."""
        _check_force(force)
        if revert is not None:
            if to is not None:
                raise FleetError("--revert and --to exclude each other")

            def revert_planner(ctx: Context) -> Change:
                change = plan_revert(ctx, revert, approve=approve, approver=approver, force=force)
                return verify.attach(ctx, change, force, skip_checks)

            git = Git(repo)
            outcome = apply.run(
                repo,
                revert_planner,
                dry_run=dry_run,
                options=apply.PushOptions(push, bool(branch), remote, retries),
                preview=_preview_printer(output, repo),
                apply_files=lambda change: apply_revert(git, change),
            )
            _finish(outcome, output, repo)
            return
        if name is None or env is None:
            raise FleetError("rollback needs APP and --env ENV (or --revert COMMIT)")
        req = RollbackRequest(name, env, to, approve, approver, force, mark_bad)

        def planner(ctx: Context) -> Change:
            return verify.attach(ctx, plan_rollback(ctx, req), force, skip_checks)

        _run_planned(repo, planner, name, env, dry_run, push, branch, remote, retries, output)

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
        if not _in_git(repo):
            raise FleetError(
                "not a git repository with commits", file=str(repo), hint="history is read from git"
            )
        records = ledger.load(Git(repo), app=name, env=env)
        if not records and (repo / FLEET_FILE).is_file():
            # An app removed from the fleet keeps its history; only a name never seen is a typo.
            fleet = load_fleet(repo)
            if name is not None and name not in {a.name for a in fleet.apps}:
                fleet.app(name)
            if env is not None:
                fleet.env(env)
        if limit is not None:
            records = records[:limit]
        if output is Format.text:
            echo(report.history_text(records))
        else:
            echo(structured({"entries": [r.as_dict() for r in records]}, output))


def _check_force(force: str | None) -> None:
    if force is not None and not force.strip():
        raise FleetError("--force needs a reason", hint='--force "hotfix for INC-1234"')


def _in_git(repo: Path) -> bool:
    try:
        return Git(repo).head() is not None
    except FleetError:
        return False
