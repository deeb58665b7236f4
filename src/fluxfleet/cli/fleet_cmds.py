"""Fleet commands: init, schema, validate, clusters, placement, explain, generate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from fluxfleet import proc
from fluxfleet.cli.common import FleetOpt, OutputOpt, RepoOpt, echo, stdout, warn
from fluxfleet.errors import FleetError
from fluxfleet.output import Format, structured

if TYPE_CHECKING:
    from fluxfleet.fleet.load import Fleet
    from fluxfleet.generate.apply import Changes


def _cwd() -> Path:
    return Path.cwd()


def init(
    directory: Annotated[
        Path, typer.Argument(help="Folder to create the fleet in.", file_okay=False)
    ] = Path(),
    example: Annotated[
        bool, typer.Option("--example", help="The built-in 3 environments x 3 regions example fleet.")
    ] = False,
) -> None:
    """Start a fleet: write fleet.yaml (and `git init` the folder when it is not a repository)."""
    from fluxfleet.fleet.example import MINIMAL_FLEET_YAML, example_fleet_yaml
    from fluxfleet.fleet.load import FLEET_FILE

    directory.mkdir(parents=True, exist_ok=True)
    target = directory / FLEET_FILE
    if target.exists():
        raise FleetError(
            "a fleet definition already exists", file=target, hint="edit it, or init another folder"
        )
    if not (directory / ".git").exists():
        git = proc.find_tool("git")
        if git is None:
            raise FleetError("git is not installed", hint="fluxfleet keeps the fleet in a git repository")
        proc.run([git, "init", "-q", "-b", "main", str(directory)], what="git init")
    target.write_text(example_fleet_yaml() if example else MINIMAL_FLEET_YAML, encoding="utf-8")
    echo(f"wrote {target}")
    echo("next: fluxfleet generate" + (f" -C {directory}" if directory != Path() else ""))


def schema(output: OutputOpt = Format.json) -> None:
    """Print the JSON Schema of fleet.yaml (point your editor's YAML plugin at it)."""
    from fluxfleet.fleet.model import FleetDocument

    doc = FleetDocument.model_json_schema(by_alias=True)
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["title"] = "fluxfleet Fleet (fluxfleet.dev/v1alpha1)"
    echo(json.dumps(doc, indent=2) if output != Format.yaml else structured(doc, Format.yaml))


def validate(repo: RepoOpt = Path(), fleet_file: FleetOpt = None, output: OutputOpt = Format.text) -> None:
    """Validate fleet.yaml: exit 0 when valid, 2 with every problem listed."""
    from fluxfleet.fleet.load import load_fleet
    from fluxfleet.fleet.placement import place

    fleet = load_fleet(repo, fleet_file)
    warnings = place(fleet).warnings()
    summary = {
        "fleet": fleet.name,
        "environments": fleet.env_names,
        "clusters": len(fleet.clusters),
        "platform": len(fleet.platform),
        "apps": len(fleet.apps),
        "warnings": warnings,
    }
    if output != Format.text:
        echo(structured(summary, output))
        return
    for w in warnings:
        warn(w)
    echo(
        f"fleet {fleet.name!r} is valid: {len(fleet.environments)} environments, {len(fleet.clusters)} clusters, "
        f"{len(fleet.platform)} platform components, {len(fleet.apps)} apps"
    )


def clusters(repo: RepoOpt = Path(), fleet_file: FleetOpt = None, output: OutputOpt = Format.text) -> None:
    """List clusters with their labels and repository folders."""
    from fluxfleet.fleet.load import load_fleet
    from fluxfleet.generate.layout import cluster_dirs

    fleet = load_fleet(repo, fleet_file)
    dirs = cluster_dirs(fleet)
    rows = [{"name": c.name, "path": dirs[c.name], "labels": dict(c.labels)} for c in fleet.clusters]
    if output != Format.text:
        echo(structured(rows, output))
        return
    table = Table("CLUSTER", "ENVIRONMENT", "REGION", "PATH", "OTHER LABELS", box=None)
    for c in fleet.clusters:
        others = ",".join(f"{k}={v}" for k, v in c.labels.items() if k not in ("environment", "region"))
        table.add_row(c.name, c.environment, c.region, dirs[c.name], others)
    stdout().print(table)


def placement(repo: RepoOpt = Path(), fleet_file: FleetOpt = None, output: OutputOpt = Format.text) -> None:
    """Print the matrix of platform components and apps x clusters."""
    from fluxfleet.fleet.load import load_fleet
    from fluxfleet.fleet.placement import place

    fleet = load_fleet(repo, fleet_file)
    result = place(fleet)
    for message in result.warnings():
        warn(message)
    if output != Format.text:
        echo(structured(result.matrix(), output))
        return
    # Clusters down, workloads across: fleets grow in clusters faster than in apps.
    table = Table("CLUSTER", *[w.name for w in fleet.workloads], box=None, show_edge=False)
    for c in fleet.clusters:
        table.add_row(c.name, *["●" if c.name in result.placed[w.name] else "·" for w in fleet.workloads])
    stdout().print(table)
    echo(f"{len(fleet.platform)} platform components, {len(fleet.apps)} apps, {len(fleet.clusters)} clusters")


def explain(
    name: Annotated[str, typer.Argument(help="App or platform component.")],
    cluster: Annotated[str, typer.Option("--cluster", "-c", help="Cluster name.")],
    repo: RepoOpt = Path(),
    fleet_file: FleetOpt = None,
    output: OutputOpt = Format.text,
) -> None:
    """Say why an app or component is, or is not, placed on a cluster, requirement by requirement."""
    from fluxfleet.fleet.load import load_fleet
    from fluxfleet.fleet.placement import explain_placement

    fleet = load_fleet(repo, fleet_file)
    result = explain_placement(fleet.workload(name), fleet.cluster(cluster))
    if output != Format.text:
        echo(structured(result.as_dict(), output))
        return
    verdict = "is placed on" if result.placed else "is NOT placed on"
    echo(f"{result.workload} {verdict} {result.cluster}")
    echo(f"  selector: {result.selector}")
    echo(f"  labels:   {', '.join(f'{k}={v}' for k, v in result.labels.items())}")
    if not result.requirements:
        echo("  an empty selector matches every cluster")
    for r in result.requirements:
        echo(f"  {'✓' if r.matched else '✗'} {r.requirement}: {r.reason}")


def _print_changes(changes: Changes, *, verb: str) -> None:
    for label, paths in (
        ("create", changes.created),
        ("update", changes.updated),
        ("delete", changes.deleted),
        ("scaffold", changes.scaffolded),
        ("remove", changes.stray),
    ):
        for p in paths:
            echo(
                f"{verb}{label:<9} {p}"
                + (" (temp file of an interrupted write)" if label == "remove" else "")
            )
    if changes.interrupted:
        echo(f"{verb}finish   the generate interrupted in .fluxfleet-txn/")
    for p in changes.user_owned:
        echo(f"  keep     {p} (no fluxfleet header: the file is yours)")


def _decryption_keys(fleet: Fleet) -> list[dict[str, Any]]:
    """Per environment with age recipients: its clusters and the command that installs its key."""
    from fluxfleet.secrets.keys import sops_age_secret_command

    return [
        {
            "environment": env,
            "clusters": [c.name for c in fleet.clusters_in(env)],
            "command": sops_age_secret_command(f"<{env} age key file>"),
        }
        for env in fleet.env_names
        if fleet.secrets.age_recipients.get(env)
    ]


def generate(
    repo: RepoOpt = Path(),
    fleet_file: FleetOpt = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Write nothing; exit 1 when generated files are missing, stale or orphaned."
        ),
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; write nothing.")] = False,
    flux_components: Annotated[
        Path | None,
        typer.Option(
            "--flux-components",
            help="`flux install --export` output to use as gotk-components.yaml.",
            dir_okay=False,
        ),
    ] = None,
    move: Annotated[
        bool,
        typer.Option(
            "--move", help="Allow moving or removing cluster folders; prints the steps for live clusters."
        ),
    ] = False,
    output: OutputOpt = Format.text,
) -> None:
    """Write the Flux repository layout for every cluster from fleet.yaml."""
    from fluxfleet.generate.alerts import secret_commands
    from fluxfleet.generate.layout import cluster_dirs
    from fluxfleet.usecases.generate import GenerateRequest, generate_files
    from fluxfleet.usecases.workspace import Workspace

    workspace = Workspace.open(repo, fleet_file=fleet_file)
    result = generate_files(
        GenerateRequest(workspace, flux_components, write=not (check or dry_run), allow_move=move)
    )
    changes = result.changes
    for message in result.warnings:
        warn(message)
    dirs = cluster_dirs(result.fleet)
    for m in result.moves if output == Format.text else ():
        warn(f"cluster folder {m.folder} {'moves' if m.clusters else 'goes away'}; for each live cluster:")
        for step in m.steps(dirs):
            warn(f"  {step}")
    keys = _decryption_keys(result.fleet)
    if output != Format.text:
        moves = [
            {"folder": m.folder, "clusters": list(m.clusters), "steps": m.steps(dirs)} for m in result.moves
        ]
        data = {**changes.as_dict(), "warnings": result.warnings, "decryptionKeys": keys, "moves": moves}
        echo(structured(data, output))
    elif check or dry_run:
        _print_changes(changes, verb="  would ")
        if not changes.pending:
            echo(f"up to date: {changes.unchanged} generated files")
    else:
        _print_changes(changes, verb="  ")
        echo(
            f"generated {len(result.fleet.clusters)} clusters: {len(changes.created)} created, "
            f"{len(changes.updated)} updated, {len(changes.deleted)} deleted, "
            f"{len(changes.scaffolded)} scaffolded, {changes.unchanged} unchanged"
        )
        if changes.pending:
            for item in secret_commands(result.fleet):
                where = ", ".join(item["clusters"])
                echo(f"alerts send through the Secret {item['secret']}; create it on {where}:")
                echo(f"  {item['command']}")
        if changes.pending and keys:
            echo(
                "Kustomizations of these environments decrypt with the Secret sops-age; create it on each cluster:"
            )
            for key in keys:
                echo(f"  {key['environment']} ({', '.join(key['clusters'])}):")
                echo(f"    {key['command']}")
    if check and changes.pending:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(schema)
    app.command()(validate)
    app.command()(clusters)
    app.command()(placement)
    app.command()(explain)
    app.command()(generate)
