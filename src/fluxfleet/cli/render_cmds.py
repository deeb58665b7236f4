"""Render commands: ``build``, ``get``, ``tree``, ``diff`` and ``version``.

Exit codes: 0 success; 1 something was found (render errors for build/get/tree, changes for diff);
2 a user error, or for ``diff`` a render error at the head revision (as ``flux diff``: >1 is an error).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from fluxfleet import __version__
from fluxfleet.cli.common import OutputOpt, RepoOpt, echo, error_line, progress, stderr
from fluxfleet.cli.outdir import output_folder, write_output
from fluxfleet.errors import FleetError
from fluxfleet.output import Format, structured
from fluxfleet.render import present
from fluxfleet.render.api import RenderOptions, RenderSession
from fluxfleet.render.model import ClusterRender

ClusterOpt = Annotated[
    list[str] | None,
    typer.Option("--cluster", "-c", help="Only this cluster (repeatable).", show_default=False),
]
PathOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--path", help="Render this folder as a cluster instead of discovering clusters (repeatable)."
    ),
]
SourceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--source", help="Map a Flux source to a local folder: NAME=PATH (NAME, ns/NAME or Kind/ns/NAME)."
    ),
]
NoStrictOpt = Annotated[
    bool, typer.Option("--no-strict", help="Unset variables become empty (Flux < 2.9); default is strict.")
]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Bypass the persistent kustomize build cache.")]
JobsOpt = Annotated[int | None, typer.Option("--jobs", "-j", min=1, help="Parallel kustomize builds.")]


def _options(sources: list[str] | None, no_strict: bool, no_cache: bool, jobs: int | None) -> RenderOptions:
    return RenderOptions(
        strict=not no_strict, use_cache=not no_cache, jobs=jobs, sources=tuple(sources or ())
    )


def render_clusters(
    repo: Path, clusters: list[str] | None, paths: list[str] | None, options: RenderOptions
) -> list[ClusterRender]:
    """Render for a command: progress on a terminal, and a clear error when no cluster is found."""
    with RenderSession(options) as session, progress("rendering", 1) as bar:
        renders = session.render(repo, names=clusters, paths=paths)
        bar.advance()
    if not renders:
        raise FleetError(
            "no clusters found",
            file=str(repo),
            hint="add fleet.yaml, bootstrap a cluster folder (flux-system/), or pass --path",
        )
    return renders


def _report_errors(renders: list[ClusterRender]) -> int:
    errors = [e for r in renders for e in r.errors]
    for error in errors:
        error_line("error:", "red", str(error))
    return 1 if errors else 0


# `get` subcommands: (name, help, text view, structured key, structured rows).
_GET_VIEWS: tuple[
    tuple[str, str, Callable[[list[ClusterRender]], str], str, Callable[[list[ClusterRender]], Any]], ...
] = (
    (
        "kustomizations",
        "Every Flux Kustomization per cluster: rendered, external, failed or skipped, and why.",
        present.kustomizations_text,
        "kustomizations",
        present.kustomization_rows,
    ),
    (
        "helmreleases",
        "HelmReleases per cluster with chart, version, values source and whether they were rendered.",
        present.helmreleases_text,
        "helmreleases",
        present.helmrelease_rows,
    ),
    (
        "images",
        "The version matrix: which image tag (and chart version) runs on which cluster.",
        present.images_text,
        "images",
        present.image_matrix,
    ),
)


def _get_command(
    text_view: Callable[[list[ClusterRender]], str], key: str, rows: Callable[[list[ClusterRender]], Any]
) -> Callable[..., None]:
    def command(
        repo: RepoOpt = Path("."),
        cluster: ClusterOpt = None,
        path: PathOpt = None,
        source: SourceOpt = None,
        no_strict: NoStrictOpt = False,
        no_cache: NoCacheOpt = False,
        jobs: JobsOpt = None,
        output: OutputOpt = Format.text,
    ) -> None:
        renders = render_clusters(repo, cluster, path, _options(source, no_strict, no_cache, jobs))
        if output == Format.text:
            echo(text_view(renders))
        else:
            echo(structured({key: rows(renders), "errors": present.error_dicts(renders)}, output))
        raise typer.Exit(_report_errors(renders))

    return command


def _get_app() -> typer.Typer:
    get = typer.Typer(help="List what the clusters would run, according to git.", no_args_is_help=True)
    for name, help_text, text_view, key, rows in _GET_VIEWS:
        get.command(name, help=help_text)(_get_command(text_view, key, rows))
    return get


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""

    @app.command("build")
    def build(
        repo: RepoOpt = Path("."),
        cluster: ClusterOpt = None,
        path: PathOpt = None,
        source: SourceOpt = None,
        no_strict: NoStrictOpt = False,
        no_cache: NoCacheOpt = False,
        jobs: JobsOpt = None,
        output: Annotated[
            str, typer.Option("--output", "-o", help="yaml, json, or dir:PATH (a folder per cluster).")
        ] = "yaml",
    ) -> None:
        """Render every cluster offline, exactly as Flux would apply it (Secret values masked)."""
        target = output_folder(output[4:], repo) if output.startswith("dir:") else None
        if output not in ("yaml", "json") and target is None:
            raise FleetError(
                f"unknown output {output!r}", field="--output", hint="use yaml, json or dir:PATH"
            )
        renders = render_clusters(repo, cluster, path, _options(source, no_strict, no_cache, jobs))
        if output == "yaml":
            sys.stdout.write(present.yaml_stream(renders))
        elif output == "json":
            echo(structured(present.json_doc(renders), Format.json))
        elif target is not None:
            try:
                write_output(target, present.folder_plan(renders), [r.cluster for r in renders])
            except OSError as exc:
                raise FleetError(
                    f"cannot write the rendered files: {exc.strerror}", file=str(target)
                ) from None
            stderr().print(f"wrote {sum(len(r.kustomizations) for r in renders)} Kustomizations to {target}")
        raise typer.Exit(_report_errors(renders))

    app.add_typer(_get_app(), name="get")

    @app.command("tree")
    def tree(
        repo: RepoOpt = Path("."),
        cluster: ClusterOpt = None,
        path: PathOpt = None,
        source: SourceOpt = None,
        objects: Annotated[
            bool, typer.Option("--objects", help="Also list the objects of each Kustomization.")
        ] = False,
        no_strict: NoStrictOpt = False,
        no_cache: NoCacheOpt = False,
        output: OutputOpt = Format.text,
    ) -> None:
        """The Kustomization tree of a cluster with dependsOn, like `flux tree ks`."""
        renders = render_clusters(repo, cluster, path, _options(source, no_strict, no_cache, None))
        if output == Format.text:
            echo("\n".join(present.tree_text(r, objects=objects) for r in renders))
        else:
            echo(
                structured(
                    {
                        "clusters": [
                            {
                                "cluster": r.cluster,
                                "kustomizations": [present.ks_dict(k) for k in r.kustomizations],
                            }
                            for r in renders
                        ]
                    },
                    output,
                )
            )
        raise typer.Exit(_report_errors(renders))

    @app.command("version")
    def version(output: OutputOpt = Format.text) -> None:
        """fluxfleet's version and the kustomize engine it uses."""
        from fluxfleet.render.engine import locate

        info: dict[str, str | None]
        try:
            engine = locate()
            info = {
                "fluxfleet": __version__,
                "engine": engine.kind,
                "binary": engine.binary,
                "kustomize": engine.version,
            }
        except FleetError as exc:
            info = {
                "fluxfleet": __version__,
                "engine": None,
                "binary": None,
                "kustomize": None,
                "error": exc.message,
            }
        if output == Format.text:
            echo(f"fluxfleet {__version__}")
            if info.get("engine"):
                echo(f"kustomize {info['kustomize']} ({info['engine']}: {info['binary']})")
            else:
                echo(f"kustomize: not found ({info['error']})")
        else:
            echo(structured(info, output))
        if not info.get("engine"):
            raise typer.Exit(2)

    register_diff(app)


def _team_lookup(repo: Path) -> dict[str, str]:
    """Kustomization id -> owning team, from fleet.yaml apps (empty without fleet.yaml)."""
    if not (repo / "fleet.yaml").is_file():
        return {}
    from fluxfleet.fleet.load import load_fleet
    from fluxfleet.generate.layout import kustomization_teams

    return kustomization_teams(load_fleet(repo))


def _render_revision(
    session: RenderSession,
    top: Path,
    sub: Path,
    rev: str,
    paths: list[str] | None,
    names: list[str] | None,
    repo: Path,
    *,
    stored: bool = False,
) -> tuple[list[ClusterRender], dict[str, str]]:
    """Render a committed revision straight from git objects (only fleet.yaml touches the disk).

    ``stored``: use the persistent render cache of committed revisions (the teams are then not
    looked up: the base of a diff does not need them).
    """
    import tempfile

    from fluxfleet.gitrepo.tree import read_files, resolve
    from fluxfleet.render.files import MemoryTree

    prefix = "" if str(sub) == "." else sub.as_posix()
    key = session.revision_key(resolve(top, rev), prefix, names, paths) if stored else None
    if key is not None:
        cached = session.load_revision(key)
        if cached is not None:
            return cached, {}
    files = read_files(top, rev, prefix)
    with tempfile.TemporaryDirectory(prefix="fluxfleet-rev-") as tmp:
        root = Path(tmp)
        fleet_files = {k: v for k, v in files.items() if k == "fleet.yaml" or k.startswith("fleet.d/")}
        for rel, data in fleet_files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        renders = session.render(
            root, names=names, paths=paths, source_root=repo, tree=MemoryTree(files, root)
        )
        if key is not None:
            session.save_revision(key)
        return renders, _team_lookup(root)


def register_diff(app: typer.Typer) -> None:
    @app.command("diff")
    def diff(
        base: Annotated[
            str | None, typer.Argument(help="Base revision (default: merge base with the main branch).")
        ] = None,
        head: Annotated[str | None, typer.Argument(help="Head revision (default: the working tree).")] = None,
        repo: RepoOpt = Path("."),
        cluster: ClusterOpt = None,
        path: PathOpt = None,
        source: SourceOpt = None,
        no_strict: NoStrictOpt = False,
        no_cache: NoCacheOpt = False,
        jobs: JobsOpt = None,
        output: Annotated[
            str,
            typer.Option("--output", "-o", help="text, json, yaml or markdown (for a pull-request comment)."),
        ] = "text",
        max_size: Annotated[
            int, typer.Option("--max-size", min=1000, help="Character limit of the markdown output.")
        ] = 60_000,
    ) -> None:
        """Compare what every cluster would apply at two revisions. Exit 0 no change, 1 changes, 2 error."""
        from fluxfleet.diff.compare import compare
        from fluxfleet.diff.report import as_data, as_markdown, as_text
        from fluxfleet.gitrepo.tree import default_branch, merge_base, resolve, toplevel

        if output not in ("text", "json", "yaml", "markdown"):
            raise FleetError(
                f"unknown output {output!r}", field="--output", hint="use text, json, yaml or markdown"
            )
        top = toplevel(repo)
        sub = repo.resolve().relative_to(top.resolve())
        if base is None:
            main = default_branch(top)
            base = merge_base(top, main, "HEAD")
            base_label = f"merge-base({main}, HEAD)={base[:12]}"
        else:
            base_label = f"{base} ({resolve(top, base)[:12]})"
        head_label = "working tree" if head is None else f"{head} ({resolve(top, head)[:12]})"
        options = _options(source, no_strict, no_cache, jobs)
        wanted = set(cluster or [])
        with RenderSession(options) as session, progress("rendering both revisions", 2) as bar:
            base_renders, _ = _render_revision(session, top, sub, base, path, None, repo, stored=True)
            bar.advance()
            if head is None:
                head_renders = session.render(repo, names=cluster, paths=path)
                teams = _team_lookup(repo)
            else:
                head_renders, teams = _render_revision(session, top, sub, head, path, cluster, repo)
            bar.advance()
        if wanted:
            base_renders = [r for r in base_renders if r.cluster in wanted]
        result = compare(
            base_renders,
            head_renders,
            base_label=base_label,
            head_label=head_label,
            team_of=lambda ks: teams.get(ks or ""),
        )
        head_errors = [e for r in head_renders for e in r.errors]
        if output == "text":
            echo(as_text(result))
        elif output == "markdown":
            echo(as_markdown(result, head_errors, max_size))
        else:
            echo(structured(as_data(result, head_errors), output))
        # Only errors the change introduces fail the diff: a Kustomization that was already broken
        # at the base must not turn every later pull request red.
        known = {(e.cluster, e.kustomization, e.message) for r in base_renders for e in r.errors}
        new_errors = [e for e in head_errors if (e.cluster, e.kustomization, e.message) not in known]
        for error in head_errors:
            if error in new_errors:
                error_line("error:", "red", str(error))
            else:
                error_line("already at the base:", "yellow", str(error))
        if new_errors:
            raise typer.Exit(2)
        raise typer.Exit(1 if result.changed else 0)
