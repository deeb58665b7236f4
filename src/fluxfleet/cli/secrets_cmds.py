"""Secrets commands: ``secrets keygen|encrypt|decrypt|edit|rotate|status`` and
``add secret-store|external-secret`` (External Secrets Operator scaffolding)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fluxfleet.cli import sealed_cmds
from fluxfleet.cli.common import FleetOpt, OutputOpt, RepoOpt, echo, warn
from fluxfleet.errors import did_you_mean
from fluxfleet.output import Format, structured
from fluxfleet.secrets import external

if TYPE_CHECKING:
    pass

secrets_app = typer.Typer(
    name="secrets",
    help="SOPS + age: keys per environment, encrypt/decrypt/edit/rotate files with the real sops.",
    no_args_is_help=True,
)

KeyFilesOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--key-file",
        "-k",
        help="age key file (repeatable; default: $SOPS_AGE_KEY_FILE, then sops' own lookup).",
        dir_okay=False,
    ),
]
EnvOpt = Annotated[
    str | None, typer.Option("--env", "-e", help="Environment (default: from the file's path).")
]
FileArg = Annotated[Path, typer.Argument(help="File inside the repository.", dir_okay=False)]


def keygen(
    env: Annotated[str, typer.Option("--env", "-e", help="Environment the key is for.")],
    key_file: Annotated[
        Path,
        typer.Option(
            "--key-file",
            "-k",
            help="Where to write the PRIVATE key (outside the repository).",
            dir_okay=False,
        ),
    ],
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the environment's recipients instead of adding one.")
    ] = False,
    repo: RepoOpt = Path(),
    fleet_file: FleetOpt = None,
    output: OutputOpt = Format.text,
) -> None:
    """Create an age key for ENV: private key to --key-file (0600), public recipient into fleet.yaml."""
    from fluxfleet.fleet.load import FLEET_FILE, load_fleet
    from fluxfleet.secrets.fleet_edit import set_age_recipients
    from fluxfleet.secrets.keys import check_key_path, generate_key, sops_age_secret_command

    fleet = load_fleet(repo, fleet_file)
    fleet.env(env)
    check_key_path(key_file, repo)  # refuse before anything is created
    target = (fleet_file or repo / FLEET_FILE).resolve()
    new = generate_key(key_file, repo)
    try:
        recipients = set_age_recipients(repo.resolve(), target, env, new.recipient, replace=replace)
    except BaseException:
        new.path.unlink(missing_ok=True)  # no orphan key for a recipient that was never recorded
        raise
    command = sops_age_secret_command(str(new.path))
    clusters = [c.name for c in fleet.clusters_in(env)]
    if output != Format.text:
        echo(
            structured(
                {
                    "environment": env,
                    "recipient": new.recipient,
                    "keyFile": str(new.path),
                    "recipients": recipients,
                    "clusters": clusters,
                    "command": command,
                },
                output,
            )
        )
        return
    echo(f"wrote the private key to {new.path} (mode 0600); keep it out of git")
    echo(f"added recipient {new.recipient} to spec.secrets.ageRecipients.{env} in {target.name}")
    echo("next:")
    echo("  fluxfleet generate        # .sops.yaml rules and spec.decryption on the Kustomizations")
    if len(recipients) > 1:
        echo(f"  fluxfleet secrets rotate --env {env} -k <a key that opens the current files>")
    echo(f"  on each cluster of {env} ({', '.join(clusters) or 'none yet'}):")
    echo(f"    {command}")


def encrypt(
    file: FileArg,
    env: EnvOpt = None,
    to_stdout: Annotated[bool, typer.Option("--stdout", help="Print instead of rewriting the file.")] = False,
    repo: RepoOpt = Path(),
    fleet_file: FleetOpt = None,
) -> None:
    """Encrypt a plaintext file in place for the recipients of every environment it is deployed to."""
    from fluxfleet.fleet.load import load_fleet
    from fluxfleet.fleet.placement import place
    from fluxfleet.secrets import ops

    fleet = load_fleet(repo, fleet_file)
    rel = ops.repo_relative(repo, file)
    with ops.sops_with_keys([]) as sops:
        content, recipients = ops.encrypt_file(repo, fleet, place(fleet), sops, rel, env=env)
    if to_stdout:
        sys.stdout.write(content.decode("utf-8"))
        return
    ops.write_file(repo, rel, content)
    echo(
        f"encrypted {rel} for {', '.join(recipients.envs)} ({recipients.why}), {len(recipients.recipients)} recipient(s)"
    )


def decrypt(file: FileArg, key_file: KeyFilesOpt = None, repo: RepoOpt = Path()) -> None:
    """Print the decrypted file to stdout (the MAC is verified). Nothing is written to disk."""
    from fluxfleet.secrets import ops

    rel = ops.repo_relative(repo, file)
    with ops.sops_with_keys(key_file or []) as sops:
        plaintext = ops.decrypt_file(repo, sops, rel)
    sys.stdout.write(plaintext.decode("utf-8", errors="replace"))


def edit(file: FileArg, key_file: KeyFilesOpt = None, repo: RepoOpt = Path()) -> None:
    """Edit an encrypted file in $EDITOR; unchanged values keep their ciphertext."""
    from fluxfleet.secrets import ops

    rel = ops.repo_relative(repo, file)
    editor = ops.editor_command()
    with ops.sops_with_keys(key_file or []) as sops:
        result = ops.edit_file(repo, sops, rel, editor)
    if not result.changed or result.content is None:
        echo(f"{rel}: no changes")
        return
    ops.write_file(repo, rel, result.content)
    echo(f"{rel}: re-encrypted")


def rotate(
    env: EnvOpt = None,
    data_key: Annotated[
        bool,
        typer.Option(
            "--data-key", help="Give every file a new data key, even if its recipients are current."
        ),
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would change.")] = False,
    key_file: KeyFilesOpt = None,
    repo: RepoOpt = Path(),
    fleet_file: FleetOpt = None,
    output: OutputOpt = Format.text,
) -> None:
    """Re-key sops files whose recipients differ from fleet.yaml (after keygen or a removed key)."""
    from fluxfleet.fleet.load import load_fleet
    from fluxfleet.fleet.placement import place
    from fluxfleet.secrets import ops

    fleet = load_fleet(repo, fleet_file)
    with ops.sops_with_keys(key_file or []) as sops:
        results = ops.rotate(repo, fleet, place(fleet), sops, env=env, data_key=data_key, dry_run=dry_run)
    if output != Format.text:
        echo(structured({"dryRun": dry_run, "files": [r.as_dict() for r in results]}, output))
        return
    verb = "would rotate" if dry_run else "rotated"
    for r in results:
        if r.action == "rotated":
            echo(f"{verb:>12}  {r.path}  (+{len(r.added)} -{len(r.removed)} recipients)")
        elif r.action == "skipped":
            echo(f"{'skipped':>12}  {r.path}  ({r.reason})")
        else:
            echo(f"{'current':>12}  {r.path}")
    if not results:
        echo("no sops-encrypted files found")


def status(repo: RepoOpt = Path(), fleet_file: FleetOpt = None, output: OutputOpt = Format.text) -> None:
    """List sops files and plaintext Secrets; exit 1 when one is not encrypted for its environments."""
    from fluxfleet.cli.sealed_cmds import print_sealed
    from fluxfleet.fleet.load import load_fleet
    from fluxfleet.fleet.placement import place
    from fluxfleet.secrets.sealed import sealed_status
    from fluxfleet.secrets.status import repo_status

    fleet = load_fleet(repo, fleet_file)
    rows = repo_status(repo, fleet, place(fleet))
    sealed = sealed_status(repo, fleet, datetime.now(UTC))
    if output != Format.text:
        echo(
            structured(
                {"files": [r.as_dict() for r in rows], "sealedSecrets": [s.as_dict() for s in sealed]}, output
            )
        )
    else:
        for r in rows:
            envs = ",".join(r.envs) or "-"
            echo(f"{r.state:>14}  {r.path}  [{envs}]" + (f"  {r.detail}" if r.detail else ""))
        print_sealed(sealed)
        if not rows and not sealed:
            echo("no secrets found")
    for s in sealed:
        if s.state != "ok":
            warn(f"{s.path}: SealedSecret {s.namespace}/{s.name}: {s.detail}")
    if any(r.state not in ("ok", "unscoped") for r in rows):
        raise typer.Exit(1)


# ---------------------------------------------------------------- add secret-store / external-secret


def add_secret_store(
    name: Annotated[str, typer.Argument(help="Name of the ClusterSecretStore.")],
    provider: Annotated[
        external.Provider, typer.Option("--provider", help="aws (Secrets Manager) or vault.")
    ],
    region: Annotated[str | None, typer.Option("--region", help="AWS region (aws).")] = None,
    server: Annotated[str | None, typer.Option("--server", help="Vault address, https://… (vault).")] = None,
    vault_path: Annotated[str, typer.Option("--vault-path", help="KV v2 mount (vault).")] = "secret",
    role: Annotated[
        str | None, typer.Option("--role", help="Vault Kubernetes-auth role / AWS IAM role ARN.")
    ] = None,
    path: Annotated[str, typer.Option("--path", help="Repository folder for the store manifests.")] = (
        external.DEFAULT_STORE_DIR
    ),
    repo: RepoOpt = Path(),
    fleet_file: FleetOpt = None,
) -> None:
    """Scaffold an External Secrets ClusterSecretStore (AWS Secrets Manager or Vault)."""
    from fluxfleet.fleet.load import load_fleet

    fleet = load_fleet(repo, fleet_file)
    spec = external.StoreSpec(
        name=name, provider=provider, region=region, server=server, vault_path=vault_path, role=role
    )
    written = external.add_secret_store(repo, fleet, spec, path)
    for rel in written:
        echo(f"wrote {rel}")
    echo(
        f"next: reconcile {path} on the clusters that need it, e.g. as a platform component in fleet.yaml "
        "that dependsOn external-secrets"
    )


def add_external_secret(
    name: Annotated[str, typer.Argument(help="Name of the ExternalSecret and of the Secret it creates.")],
    app_name: Annotated[str, typer.Option("--app", help="App whose overlay gets the ExternalSecret.")],
    env: Annotated[str, typer.Option("--env", "-e", help="Environment overlay to add it to.")],
    store: Annotated[str, typer.Option("--store", help="Name of the (Cluster)SecretStore.")],
    data: Annotated[
        list[str],
        typer.Option("--data", help="SECRET_KEY=REMOTE_KEY[#PROPERTY] (repeatable)."),
    ],
    refresh: Annotated[
        str, typer.Option("--refresh", help="refreshInterval: how often the value is re-read (rotation).")
    ] = "1h",
    store_kind: Annotated[
        external.StoreKind, typer.Option("--store-kind", help="ClusterSecretStore or SecretStore.")
    ] = external.StoreKind.cluster,
    repo: RepoOpt = Path(),
    fleet_file: FleetOpt = None,
) -> None:
    """Scaffold an ExternalSecret in an app's environment overlay and list it in its kustomization."""
    from fluxfleet.fleet.load import load_fleet

    fleet = load_fleet(repo, fleet_file)
    spec = external.ExternalSecretSpec(
        name=name,
        app=app_name,
        env=env,
        store=store,
        store_kind=store_kind,
        data=tuple(external.parse_data(d) for d in data),
        refresh=refresh,
    )
    for rel in external.add_external_secret(repo, fleet, spec):
        echo(f"wrote {rel}")
    stores = external.known_stores(repo, store_kind)
    if store not in stores:
        close = did_you_mean(store, stores)
        warn(
            f"no {store_kind.value} named {store!r} is defined in the repository"
            + (f"; {close}" if close else "; add one with `fluxfleet add secret-store`")
        )


def _add_group(app: typer.Typer) -> typer.Typer:
    """The shared ``add`` group (reused if another module registered it first)."""
    for group in app.registered_groups:
        if group.name == "add" and group.typer_instance is not None:
            return group.typer_instance
    add = typer.Typer(name="add", help="Scaffold objects into the repository.", no_args_is_help=True)
    app.add_typer(add, name="add")
    return add


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    for fn in (keygen, encrypt, decrypt, edit, rotate, status):
        secrets_app.command(fn.__name__)(fn)
    sealed_cmds.register(secrets_app)
    app.add_typer(secrets_app, name="secrets")
    add = _add_group(app)
    add.command("secret-store")(add_secret_store)
    add.command("external-secret")(add_external_secret)
