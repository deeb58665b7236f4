"""Render commands: ``build``, ``get``, ``tree``, ``diff`` and ``version``.

Exit codes: 0 success; 1 something was found (render errors for build/get/tree, changes for diff);
2 a user error, or for ``diff`` a render error at the head revision (as ``flux diff``: >1 is an error).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fluxfleet import __version__
from fluxfleet.cli.common import OutputOpt, RepoOpt, echo, error_line, progress, stderr
from fluxfleet.cli.outdir import output_folder, write_output
from fluxfleet.errors import FleetError
from fluxfleet.output import Format, structured
from fluxfleet.render.model import ClusterRender

if TYPE_CHECKING:
    from fluxfleet.render.api import RenderOptions

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


OfflineOpt = Annotated[
    bool, typer.Option("--offline", help="Charts only from the chart cache; list the missing ones.")
]
KubeVersionOpt = Annotated[
    str | None,
    typer.Option("--kube-version", help="Kubernetes version charts see (.Capabilities.KubeVersion)."),
]


def _options(
    sources: list[str] | None,
    no_strict: bool,
    no_cache: bool,
    jobs: int | None,
    offline: bool = False,
    kube_version: str | None = None,
) -> RenderOptions:
    from fluxfleet.render.api import RenderOptions

    if kube_version is not None and not re.fullmatch(r"v?[0-9]+\.[0-9]+(\.[0-9]+)?", kube_version):
        raise FleetError(f"--kube-version {kube_version!r} is not a Kubernetes version", hint="e.g. v1.33.0")
    return RenderOptions(
        strict=not no_strict,
        use_cache=not no_cache,
        jobs=jobs,
        sources=tuple(sources or ()),
        offline=offline,
        kube_version=kube_version,
    )


def render_clusters(
    repo: Path, clusters: list[str] | None, paths: list[str] | None, options: RenderOptions
) -> list[ClusterRender]:
    """Render for a command: progress on a terminal, and a clear error when no cluster is found."""
    from fluxfleet.usecases.render import BuildRequest, build_workspace
    from fluxfleet.usecases.workspace import Workspace

    with progress("rendering", 1) as bar:
        result = build_workspace(
            BuildRequest(Workspace.open(repo), tuple(clusters or ()), tuple(paths or ()), options)
        )
        bar.advance()
    return result.renders


def _report_errors(renders: list[ClusterRender]) -> int:
    errors = [e for r in renders for e in r.errors]
    for error in errors:
        error_line("error:", "red", str(error))
    return 1 if errors else 0


def _present(name: str) -> Callable[[list[ClusterRender]], Any]:
    """A view of ``render.present`` that imports it on first use, not when the CLI starts."""

    def view(renders: list[ClusterRender]) -> Any:
        from fluxfleet.render import present

        return getattr(present, name)(renders)

    return view


# `get` subcommands: (name, help, text view, structured key, structured rows).
_GET_VIEWS: tuple[
    tuple[str, str, Callable[[list[ClusterRender]], str], str, Callable[[list[ClusterRender]], Any]], ...
] = (
    (
        "kustomizations",
        "Every Flux Kustomization per cluster: rendered, external, failed or skipped, and why.",
        _present("kustomizations_text"),
        "kustomizations",
        _present("kustomization_rows"),
    ),
    (
        "helmreleases",
        "HelmReleases per cluster with chart, version, values source and whether they were rendered.",
        _present("helmreleases_text"),
        "helmreleases",
        _present("helmrelease_rows"),
    ),
    (
        "images",
        "The version matrix: which image tag (and chart version) runs on which cluster.",
        _present("images_text"),
        "images",
        _present("image_matrix"),
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
        offline: OfflineOpt = False,
        kube_version: KubeVersionOpt = None,
        jobs: JobsOpt = None,
        output: OutputOpt = Format.text,
    ) -> None:
        from fluxfleet.render import present

        renders = render_clusters(
            repo, cluster, path, _options(source, no_strict, no_cache, jobs, offline, kube_version)
        )
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
        offline: OfflineOpt = False,
        kube_version: KubeVersionOpt = None,
        jobs: JobsOpt = None,
        output: Annotated[
            str, typer.Option("--output", "-o", help="yaml, json, or dir:PATH (a folder per cluster).")
        ] = "yaml",
    ) -> None:
        """Render every cluster offline, exactly as Flux would apply it (Secret values masked)."""
        from fluxfleet.render import present

        target = output_folder(output[4:], repo) if output.startswith("dir:") else None
        if output not in ("yaml", "json") and target is None:
            raise FleetError(
                f"unknown output {output!r}", field="--output", hint="use yaml, json or dir:PATH"
            )
        renders = render_clusters(
            repo, cluster, path, _options(source, no_strict, no_cache, jobs, offline, kube_version)
        )
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
        offline: OfflineOpt = False,
        kube_version: KubeVersionOpt = None,
        output: OutputOpt = Format.text,
    ) -> None:
        """The Kustomization tree of a cluster with dependsOn, like `flux tree ks`."""
        from fluxfleet.render import present

        renders = render_clusters(
            repo, cluster, path, _options(source, no_strict, no_cache, None, offline, kube_version)
        )
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
        from fluxfleet.render.helm import find_helm, helm_version

        helm, missing = find_helm()
        info["helm"] = helm_version(helm) if helm else None
        info["helm_binary"] = helm
        if output == Format.text:
            echo(f"fluxfleet {__version__}")
            if info.get("engine"):
                echo(f"kustomize {info['kustomize']} ({info['engine']}: {info['binary']})")
            else:
                echo(f"kustomize: not found ({info['error']})")
            echo(
                f"helm {info['helm']} ({helm})"
                if helm
                else f"helm: not found ({missing}); HelmReleases are listed, not rendered"
            )
        else:
            echo(structured(info, output))
        if not info.get("engine"):
            raise typer.Exit(2)

    register_diff(app)


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
        offline: OfflineOpt = False,
        kube_version: KubeVersionOpt = None,
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
        from fluxfleet.diff.report import as_data, as_markdown, as_text
        from fluxfleet.gitrepo.tree import default_branch, merge_base, toplevel
        from fluxfleet.usecases.render import DiffRequest, diff_workspaces
        from fluxfleet.usecases.workspace import Workspace

        if output not in ("text", "json", "yaml", "markdown"):
            raise FleetError(
                f"unknown output {output!r}", field="--output", hint="use text, json, yaml or markdown"
            )
        top = toplevel(repo)
        if base is None:
            main = default_branch(top)
            commit = merge_base(top, main, "HEAD")
            base_ws = Workspace.open(repo, commit)
            base_ws.label = f"merge-base({main}, HEAD)={commit[:12]}"
        else:
            base_ws = Workspace.open(repo, base)
        head_ws = Workspace.open(repo, head)
        request = DiffRequest(
            base_ws,
            head_ws,
            tuple(cluster or ()),
            tuple(path or ()),
            _options(source, no_strict, no_cache, jobs, offline, kube_version),
        )
        with progress("rendering both revisions", 2) as bar:
            outcome = diff_workspaces(request, progress=bar)
        result, head_renders, new_errors = outcome.result, outcome.head, outcome.new_errors
        head_errors = [e for r in head_renders for e in r.errors]
        if output == "text":
            echo(as_text(result))
        elif output == "markdown":
            echo(as_markdown(result, head_errors, max_size))
        else:
            echo(structured(as_data(result, head_errors), output))
        # Only errors the change introduces fail the diff: a Kustomization that was already broken
        # at the base must not turn every later pull request red.
        for error in head_errors:
            if error in new_errors:
                error_line("error:", "red", str(error))
            else:
                error_line("already at the base:", "yellow", str(error))
        if new_errors:
            raise typer.Exit(2)
        raise typer.Exit(1 if result.changed else 0)
