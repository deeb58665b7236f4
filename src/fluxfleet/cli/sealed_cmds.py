"""``secrets seal``: a Secret -> SealedSecret with the environment's (or cluster's) certificate."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fluxfleet import yamlio
from fluxfleet.cli.common import FleetOpt, OutputOpt, RepoOpt, echo
from fluxfleet.errors import FleetError
from fluxfleet.output import Format, structured
from fluxfleet.secrets.sealing import Scope

if TYPE_CHECKING:
    from fluxfleet.secrets.sealed import SealedStatus

MAX_SECRET_BYTES = 1024 * 1024


def _read_input(file: str) -> tuple[str, str]:
    if file == "-":
        text = sys.stdin.read(MAX_SECRET_BYTES + 1)
        if len(text) > MAX_SECRET_BYTES:
            raise FleetError(f"over {MAX_SECRET_BYTES} characters: not one Secret", file="<stdin>")
        return text, "<stdin>"
    path = Path(file)
    return yamlio.read_text(path, max_bytes=MAX_SECRET_BYTES), file


def seal(
    file: Annotated[str, typer.Argument(help="The Secret manifest to seal ('-' reads stdin).")],
    env: Annotated[str, typer.Option("--env", "-e", help="Environment whose certificate seals it.")],
    cluster: Annotated[
        str | None, typer.Option("--cluster", help="Seal for this cluster's own certificate.")
    ] = None,
    scope: Annotated[
        Scope,
        typer.Option("--scope", help="Where the value may be opened: strict, namespace-wide, cluster-wide."),
    ] = Scope.strict,
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="Namespace (default: the Secret's own).")
    ] = None,
    sealer: Annotated[
        str, typer.Option("--sealer", help="auto (kubeseal when on PATH, else native), kubeseal or native.")
    ] = "auto",
    write: Annotated[
        str | None,
        typer.Option(
            "--write", "-w", help="Write the SealedSecret to this repository path instead of stdout."
        ),
    ] = None,
    repo: RepoOpt = Path(),
    fleet_file: FleetOpt = None,
    output: OutputOpt = Format.yaml,
) -> None:
    """Seal FILE into a SealedSecret (bitnami.com/v1alpha1) safe to commit."""
    from fluxfleet.fleet.load import load_fleet
    from fluxfleet.fsutil import safe_join, write_plan
    from fluxfleet.secrets.sealed import certificate_for
    from fluxfleet.secrets.sealing import choose_sealer, read_secret

    fleet = load_fleet(repo, fleet_file)
    cert = certificate_for(fleet, env, cluster)
    if write:
        safe_join(repo, write, field="--write")  # refuse a path outside the repository before sealing
    text, display = _read_input(file)
    docs = [d for d in yamlio.load_all(text, display) if d is not None]
    if len(docs) != 1:
        raise FleetError(f"expected one Secret, found {len(docs)} documents", file=display)
    secret = read_secret(docs[0], display, namespace)
    sealed = choose_sealer(sealer).seal(secret, scope, cert.pem)
    rendered = structured(sealed, Format.json) if output == Format.json else yamlio.dump(sealed)
    if not write:
        echo(rendered)
        return
    write_plan(repo, {write: yamlio.dump(sealed)})
    keys = ", ".join(sorted(secret.values))
    echo(f"sealed {secret.namespace}/{secret.name} ({keys}) for {cert.owner}, scope {scope.value} -> {write}")


def sealing_cert(
    cert_file: Annotated[
        Path, typer.Argument(help="PEM certificate from `kubeseal --fetch-cert`.", dir_okay=False)
    ],
    env: Annotated[str, typer.Option("--env", "-e", help="Environment the certificate seals for.")],
    cluster: Annotated[
        str | None,
        typer.Option("--cluster", help="Record it for this cluster only (its own controller key)."),
    ] = None,
    repo: RepoOpt = Path(),
    fleet_file: FleetOpt = None,
) -> None:
    """Record a Sealed Secrets certificate in fleet.yaml for ENV (or one of its clusters)."""
    from fluxfleet.fleet.load import FLEET_FILE, load_fleet
    from fluxfleet.secrets.sealing_edit import check_certificate, set_sealing_certificate

    fleet = load_fleet(repo, fleet_file)
    fleet.env(env)
    if cluster is not None and fleet.cluster(cluster).environment != env:
        raise FleetError(f"cluster {cluster!r} is not in environment {env!r}")
    pem = check_certificate(yamlio.read_text(cert_file, max_bytes=64 * 1024), str(cert_file))
    target = (fleet_file or repo / FLEET_FILE).resolve()
    field = set_sealing_certificate(repo.resolve(), target, pem, env=env, cluster=cluster)
    load_fleet(repo, fleet_file)  # the edited file must still load
    echo(f"recorded the sealing certificate as {field}")


def print_sealed(rows: list[SealedStatus]) -> None:
    for r in rows:
        keys = ",".join(r.keys) or "-"
        echo(
            f"{r.state:>14}  {r.path}  SealedSecret {r.namespace}/{r.name} [{r.scope}] keys: {keys}  certificate: {r.certificate}"
        )


def register(secrets_app: typer.Typer) -> None:
    secrets_app.command("seal")(seal)
    secrets_app.command("sealing-cert")(sealing_cert)
