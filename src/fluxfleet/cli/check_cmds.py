"""``fluxfleet check``: render every cluster, run the rules, print a report, exit by severity.

Exit codes: 0 no finding at or above ``--fail-on``; 1 such findings; 2 a user error (bad policy,
unknown rule or cluster, unsupported Rego, render input errors).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fluxfleet.cli.common import RepoOpt, echo
from fluxfleet.output import structured

if TYPE_CHECKING:
    from fluxfleet.check.model import CheckResult, Severity


class CheckFormat(StrEnum):
    text = "text"
    json = "json"
    yaml = "yaml"
    sarif = "sarif"
    junit = "junit"


class SeverityOpt(StrEnum):
    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


ClusterOpt = Annotated[
    list[str] | None,
    typer.Option("--cluster", "-c", help="Only this cluster (repeatable).", show_default=False),
]


def _list_rules(fmt: CheckFormat) -> None:
    from fluxfleet.check.registry import all_rules

    rules = all_rules()
    if fmt in (CheckFormat.json, CheckFormat.yaml):
        data = [
            {"id": r.id, "severity": r.severity.value, "category": r.category, "doc": r.doc, "hint": r.hint}
            for r in rules
        ]
        echo(structured(data, fmt.value))
        return
    width = max(len(r.id) for r in rules)
    for r in rules:
        echo(f"{r.id:<{width}}  {r.severity.value:<8}  {r.category:<11}  {r.doc}")


def _write_extra(
    repo_cwd: Path, result: CheckResult, fail_on: Severity, sarif: Path | None, junit: Path | None
) -> None:
    from fluxfleet.fsutil import write_plan
    from fluxfleet.report import to_junit, to_sarif

    for path, make in ((sarif, to_sarif), (junit, None)):
        if path is None:
            continue
        content = make(result) if make is not None else to_junit(result, fail_on=fail_on)
        target = path if path.is_absolute() else (repo_cwd / path)
        write_plan(target.parent, {target.name: content})


def register(app: typer.Typer) -> None:
    """Add ``check`` to the root app."""

    @app.command("check")
    def check(
        repo: RepoOpt = Path("."),
        cluster: ClusterOpt = None,
        path: Annotated[
            list[str] | None, typer.Option("--path", help="Check this folder as a cluster (repeatable).")
        ] = None,
        source: Annotated[
            list[str] | None, typer.Option("--source", help="Map a Flux source to a local folder: NAME=PATH.")
        ] = None,
        output: Annotated[
            CheckFormat,
            typer.Option(
                "--output", "-o", help="text, json, yaml, sarif (2.1.0) or junit.", case_sensitive=False
            ),
        ] = CheckFormat.text,
        fail_on: Annotated[
            SeverityOpt | None,
            typer.Option(
                "--fail-on", help="Exit 1 on findings at or above this (default: policy failOn, high)."
            ),
        ] = None,
        min_severity: Annotated[
            SeverityOpt, typer.Option("--min-severity", help="Text output: hide findings below this.")
        ] = SeverityOpt.low,
        kubernetes_version: Annotated[
            str | None, typer.Option("--kubernetes-version", help="Schemas and removals for this version.")
        ] = None,
        flux_version: Annotated[
            str | None,
            typer.Option("--flux-version", help="Flux API removals for this version (default 2.9)."),
        ] = None,
        rule: Annotated[
            list[str] | None, typer.Option("--rule", "-r", help="Run only this rule (repeatable).")
        ] = None,
        policy_dir: Annotated[
            list[str] | None,
            typer.Option("--policy", "-p", help="Extra conftest policy folder (repeatable)."),
        ] = None,
        sarif_file: Annotated[
            Path | None, typer.Option("--sarif-file", help="Also write SARIF here.")
        ] = None,
        junit_file: Annotated[
            Path | None, typer.Option("--junit-file", help="Also write JUnit XML here.")
        ] = None,
        no_strict: Annotated[
            bool, typer.Option("--no-strict", help="Render with unset variables as empty (Flux < 2.9).")
        ] = False,
        list_rules: Annotated[bool, typer.Option("--list-rules", help="List the rules and exit.")] = False,
        base: Annotated[
            str | None,
            typer.Option("--base", help="Also compare with this revision (flux-self-removal)."),
        ] = None,
        offline: Annotated[
            bool, typer.Option("--offline", help="Charts only from the chart cache; list the missing ones.")
        ] = False,
    ) -> None:
        """Check what every cluster would apply: schemas, deprecated APIs, Flux references, security, tenancy and your Rego policies."""
        if list_rules:
            _list_rules(output)
            return
        from fluxfleet.check.model import Severity
        from fluxfleet.cli.common import progress
        from fluxfleet.render.api import RenderOptions
        from fluxfleet.report import render_report
        from fluxfleet.usecases.checks import CheckSettings
        from fluxfleet.usecases.render import CheckRequest, check_workspace
        from fluxfleet.usecases.workspace import Workspace

        request = CheckRequest(
            Workspace.open(repo),
            tuple(cluster or ()),
            tuple(path or ()),
            tuple(rule or ()),
            CheckSettings(
                kubernetes_version=kubernetes_version,
                flux_version=flux_version,
                fail_on=fail_on.value if fail_on else None,
                policy_dirs=tuple(policy_dir or ()),
            ),
            RenderOptions(strict=not no_strict, sources=tuple(source or ()), offline=offline),
            base=None if base is None else Workspace.open(repo, base),
        )
        with progress("rendering and checking", 1) as bar:
            outcome = check_workspace(request)
            bar.advance()
        result, threshold = outcome.result, outcome.setup.threshold
        if output == CheckFormat.yaml:
            import json

            echo(structured(json.loads(render_report(result, "json", fail_on=threshold)), "yaml"))
        else:
            echo(
                render_report(
                    result, output.value, fail_on=threshold, min_severity=Severity(min_severity.value)
                )
            )
        _write_extra(Path.cwd(), result, threshold, sarif_file, junit_file)
        raise typer.Exit(1 if result.failing(threshold) else 0)
