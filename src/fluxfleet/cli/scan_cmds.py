"""``fluxfleet scan``: the images each environment would run, judged by its vulnerability policy."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fluxfleet.cli.common import FleetOpt, RepoOpt, echo, progress
from fluxfleet.output import structured

if TYPE_CHECKING:
    from fluxfleet.scan.model import ImageReport
    from fluxfleet.scan.run import EnvScan
    from fluxfleet.usecases.workspace import Workspace


class ScanFormat(StrEnum):
    text = "text"
    json = "json"
    yaml = "yaml"
    sarif = "sarif"


def _full_ref(image: str, tag: str) -> str:
    if tag.startswith("@"):
        return image + tag
    return f"{image}:{tag or 'latest'}"


def rendered_images(ws: Workspace, envs: list[str], app: str | None) -> dict[str, list[str]]:
    """Environment -> the image references its clusters would run (from the offline render)."""
    from fluxfleet.generate.layout import app_ks_name
    from fluxfleet.render.images import image_uses
    from fluxfleet.scan.refs import normalise_name
    from fluxfleet.usecases.render import BuildRequest, build_workspace

    fleet = ws.fleet
    names = [c.name for env in envs for c in fleet.clusters_in(env)]
    out: dict[str, list[str]] = {env: [] for env in envs}
    if not names:
        return out
    env_of = {c.name: c.environment for c in fleet.clusters}
    renders = build_workspace(BuildRequest(ws, tuple(names))).renders
    wanted = {normalise_name(i) for i in fleet.app(app).images} if app else set()
    for render in renders:
        for use in image_uses(render):
            # an app's images: applied by its generated Kustomization, or one of its declared images
            mine = use.kustomization.rsplit("/", 1)[-1] == app_ks_name(app or "")
            if app and not mine and normalise_name(use.image) not in wanted:
                continue
            out[env_of[render.cluster]].append(_full_ref(use.image, use.tag))
    return out


def scan(
    env: Annotated[
        list[str] | None, typer.Option("--env", "-e", help="Environment to scan (repeatable; default: all).")
    ] = None,
    app: Annotated[str | None, typer.Option("--app", "-a", help="Only this app's images.")] = None,
    report: Annotated[
        list[Path] | None,
        typer.Option(
            "--report",
            "-r",
            help="Scanner report (Trivy/Grype JSON, SARIF, CycloneDX); repeatable.",
            dir_okay=False,
        ),
    ] = None,
    scanner: Annotated[
        str, typer.Option("--scanner", help="auto (trivy, then grype, when on PATH), trivy, grype or none.")
    ] = "auto",
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither read nor write the digest cache.")
    ] = False,
    repo: RepoOpt = Path(),
    fleet_file: FleetOpt = None,
    output: Annotated[
        ScanFormat, typer.Option("--output", "-o", help="text, json, yaml or sarif.", case_sensitive=False)
    ] = ScanFormat.text,
) -> None:
    """Scan the images each environment would run; exit 1 when an environment's policy fails."""
    from fluxfleet.report.scan_sarif import to_scan_sarif
    from fluxfleet.scan.cache import default_cache
    from fluxfleet.scan.index import ReportIndex
    from fluxfleet.scan.run import Sources, read_report_file, reports_in_folder, scan_images
    from fluxfleet.scan.scanners import find_scanner
    from fluxfleet.usecases.workspace import Workspace

    ws = Workspace.open(repo, fleet_file=fleet_file)
    fleet = ws.fleet
    envs = [fleet.env(e).name for e in env] if env else fleet.env_names
    if app:
        fleet.app(app)
    reports: list[ImageReport] = []
    for path in report or []:
        reports.extend(read_report_file(path))
    for folder in sorted({fleet.env(e).scan.reports for e in envs}):
        reports.extend(reports_in_folder(repo, folder))
    cache = None if no_cache else default_cache()
    sources = Sources(ReportIndex(reports), cache, find_scanner(scanner))
    images = rendered_images(ws, envs, app)
    total = len({i for refs in images.values() for i in refs})
    with progress("scanning images", total) as bar:
        scans = scan_images(
            images, {e: fleet.env(e).scan for e in envs}, sources, datetime.now(UTC).date(), bar.advance
        )
    if output == ScanFormat.sarif:
        echo(to_scan_sarif(scans, fleet.file))
    elif output in (ScanFormat.json, ScanFormat.yaml):
        data = {"environments": [s.as_dict() for s in scans]}
        echo(structured(json.loads(json.dumps(data)), output.value))
    else:
        echo(_text(scans))
    if any(s.failed for s in scans):
        raise typer.Exit(1)


def _text(scans: list[EnvScan]) -> str:
    from fluxfleet.scan.policy import summary

    lines = []
    for s in scans:
        policy = (
            f"maxSeverity {s.policy.max_severity}" if s.policy.max_severity else "no maxSeverity: report only"
        )
        if s.policy.fixed_only:
            policy += ", fixedOnly"
        state = "FAIL" if s.failed else ("pass" if s.policy.max_severity else "report")
        lines.append(f"{s.env}: {state} ({policy})")
        if not s.verdicts:
            lines.append("  no images")
        for v in s.verdicts:
            where = f"  [{v.source}]" if v.source else ""
            lines.append(f"  {v.status:>9}  {v.image}  {summary(v)}{where}")
            for vuln in v.violations:
                fix = f" -> {vuln.fixed_version}" if vuln.fixed_version else ""
                lines.append(f"             {vuln.id} {vuln.severity} {vuln.package} {vuln.installed}{fix}")
            for note in (*v.notes, *(f"accepted {a}" for a in v.accepted)):
                lines.append(f"             {note}")
            for na in v.not_affected:
                lines.append(f"             not affected (VEX): {na}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    app.command("scan")(scan)
