"""``fluxfleet check``: render every cluster, run the rules, print a report, exit by severity.

Exit codes: 0 no finding at or above ``--fail-on``; 1 such findings; 2 a user error (bad policy,
unknown rule or cluster, unsupported Rego, render input errors).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fluxfleet.cli.common import RepoOpt, echo
from fluxfleet.errors import FleetError
from fluxfleet.output import structured

if TYPE_CHECKING:
    from fluxfleet.check.model import CheckResult, Severity
    from fluxfleet.fleet.load import Fleet
    from fluxfleet.fleet.policy import PolicyConfig


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


def _load_policy(repo: Path) -> tuple[PolicyConfig, dict[str, str], frozenset[str], Fleet | None]:
    """Policy, cluster -> environment, team namespaces and the fleet (from fleet.yaml when present)."""
    from fluxfleet.check.config import validate_rule_ids
    from fluxfleet.check.registry import all_rules
    from fluxfleet.fleet.load import load_fleet
    from fluxfleet.fleet.policy import PolicyConfig, load_policy_file

    if (repo / "fleet.yaml").is_file():
        fleet = load_fleet(repo)
        # Unknown rule ids are reported here, where fleet.yaml's lines are known.
        validate_rule_ids(
            fleet.policy,
            all_rules(),
            locate=lambda rid, message, hint: fleet.error_at(("spec", "policy", "rules", rid), message, hint),
        )
        envs = {c.name: c.environment for c in fleet.clusters}
        return fleet.policy, envs, frozenset(t.name for t in fleet.teams), fleet
    return load_policy_file(repo) or PolicyConfig(), {}, frozenset(), None


def _path_exists(repo: Path) -> Callable[[str], bool]:
    from fluxfleet.fsutil import safe_join

    def exists(rel: str) -> bool:
        try:
            return safe_join(repo, rel.removeprefix("./") or ".").exists()
        except FleetError:
            return False

    return exists


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
        from fluxfleet.check.context import CheckOptions
        from fluxfleet.check.engine import run_checks
        from fluxfleet.check.model import Severity
        from fluxfleet.fleet.policy import flux_version_error

        if list_rules:
            _list_rules(output)
            return
        from fluxfleet.check.rego import RegoPolicies, load_conftest, load_gatekeeper
        from fluxfleet.check.rules.secrets_sops import secrets_options
        from fluxfleet.check.schemas import SchemaStore
        from fluxfleet.report import render_report

        if flux_version and (err := flux_version_error(flux_version)):
            raise FleetError(err, field="--flux-version", hint="pass a Flux minor version such as 2.9")
        policy, envs, teams, fleet = _load_policy(repo)
        rego_dirs = tuple(dict.fromkeys((*policy.rego, *(policy_dir or ()))))
        conftest = load_conftest(repo, rego_dirs)
        gk_objects = load_gatekeeper(repo, policy.gatekeeper)
        options = CheckOptions(
            policy=policy,
            kubernetes_version=kubernetes_version or policy.kubernetes_version,
            flux_version=flux_version or policy.flux_version or "2.9",
            path_exists=_path_exists(repo),
            rego=RegoPolicies(conftest, gk_objects) if conftest or gk_objects else None,
            environment=envs,
            tenant_namespaces=teams,
            **secrets_options(repo, fleet),
        )
        options.schemas = SchemaStore(options.kubernetes_version)
        if flux_version:
            options.policy = policy.model_copy(update={"flux_version": flux_version})
        from fluxfleet.cli.render_cmds import render_clusters
        from fluxfleet.render.api import RenderOptions

        # charts see the Kubernetes version the checks assume (.Capabilities.KubeVersion)
        kube = str(options.kubernetes_version or "")
        render_options = RenderOptions(
            strict=not no_strict,
            sources=tuple(source or ()),
            offline=offline,
            kube_version=kube if re.fullmatch(r"v?[0-9]+\.[0-9]+(\.[0-9]+)?", kube) else None,
        )
        renders = render_clusters(repo, cluster, path, render_options)
        if base is not None:
            from fluxfleet.cli.render_cmds import render_base

            baseline = render_base(repo, base, cluster, render_options)
            options.baseline = {r.cluster: r for r in baseline}
        result = run_checks(renders, options, only=rule)
        threshold = Severity((fail_on.value if fail_on else None) or policy.fail_on)
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
