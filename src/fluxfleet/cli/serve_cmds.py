"""The fleet service commands: ``serve`` (run it), ``serve keys`` (per-cluster HMAC keys),
``serve token`` (API tokens), ``events import`` (air-gapped sites) and ``audit verify|export``.

Service libraries are imported inside the commands, so the rest of the CLI does not load them.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fluxfleet.cli.common import FleetOpt, OutputOpt, RepoOpt, echo, stderr
from fluxfleet.errors import FleetError
from fluxfleet.output import Format, structured

if TYPE_CHECKING:
    from fluxfleet.store.db import Store


def _default_db() -> str:
    from platformdirs import user_data_dir

    return os.environ.get("FLUXFLEET_DB") or str(Path(user_data_dir("fluxfleet")) / "fleet.db")


def _default_keys() -> Path:
    from platformdirs import user_config_dir

    value = os.environ.get("FLUXFLEET_HMAC_KEYS")
    return Path(value) if value else Path(user_config_dir("fluxfleet")) / "hmac-keys.yaml"


DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database: a SQLite file path or postgresql://… (default: $FLUXFLEET_DB, then a file in "
        "the user data folder).",
    ),
]
KeysOpt = Annotated[
    Path | None,
    typer.Option(
        "--keys",
        help="HMAC key file, outside the repository (default: $FLUXFLEET_HMAC_KEYS, then the user "
        "config folder).",
        dir_okay=False,
    ),
]


def _open_store(db: str | None) -> Store:
    try:
        from fluxfleet.store.db import Store
    except ImportError as exc:  # the optional extra is missing
        raise FleetError(
            f"the service needs the `serve` extra ({exc.name} is not installed)",
            hint="pip install 'fluxfleet[serve]'",
        ) from None
    url = db or _default_db()
    if "://" not in url:
        Path(url).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    return Store.open(url)


def _now() -> datetime:
    return datetime.now(UTC)


serve_app = typer.Typer(
    name="serve",
    help="The fleet service: receives Flux events, answers the promotion gates, records approvals.",
    invoke_without_command=True,
)


@serve_app.callback()
def serve(
    ctx: typer.Context,
    repo: RepoOpt = Path(),
    fleet_file: FleetOpt = None,
    db: DbOpt = None,
    keys: KeysOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8080,
    public_url: Annotated[
        str | None,
        typer.Option("--public-url", help="URL people reach the dashboard at (default: http://HOST:PORT)."),
    ] = None,
    oidc_issuer: Annotated[
        str | None, typer.Option("--oidc-issuer", help="OIDC issuer URL for single sign-on.")
    ] = None,
    oidc_client_id: Annotated[
        str | None,
        typer.Option(
            "--oidc-client-id", help="OIDC client id (secret, if any: $FLUXFLEET_OIDC_CLIENT_SECRET)."
        ),
    ] = None,
) -> None:
    """Run the service (receiver, API, gates' evidence, dashboard) until interrupted.

    Sign-in: OIDC with PKCE when --oidc-issuer is given, and always with an API token (local-user
    mode: `fluxfleet serve token --subject you --scope admin`). Replicas share
    $FLUXFLEET_SESSION_SECRET so a session works on each."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from fluxfleet.fleet.load import load_fleet
    from fluxfleet.serve.app import Service, build_app
    from fluxfleet.serve.keys import load_keys
    from fluxfleet.serve.oidc import Oidc, OidcConfig
    from fluxfleet.serve.session import Signer
    from fluxfleet.serve.versions import VersionIndex
    from fluxfleet.serve.web import WebConfig

    fleet = load_fleet(repo, fleet_file)
    hmac_keys = load_keys(keys or _default_keys())
    unknown = sorted(set(hmac_keys.keys) - {c.name for c in fleet.clusters})
    if unknown:
        stderr().print(f"warning: keys for clusters not in the fleet: {', '.join(unknown)}")
    versions = VersionIndex(repo) if (repo / ".git").exists() else None
    base = (public_url or f"http://{host}:{port}").rstrip("/")
    oidc = None
    if oidc_issuer or oidc_client_id:
        if not (oidc_issuer and oidc_client_id):
            raise FleetError("--oidc-issuer and --oidc-client-id go together", field="--oidc-issuer")
        secret = os.environ.get("FLUXFLEET_OIDC_CLIENT_SECRET") or None
        oidc = Oidc(OidcConfig(oidc_issuer, oidc_client_id, secret, f"{base}/login/callback"))
    session_secret = os.environ.get("FLUXFLEET_SESSION_SECRET", "").encode() or secrets.token_bytes(32)
    if len(session_secret) < 32:
        raise FleetError("FLUXFLEET_SESSION_SECRET must be at least 32 characters")
    web = WebConfig(Signer(session_secret), oidc, secure_cookies=base.startswith("https://"))
    svc = Service(_open_store(db), hmac_keys, fleet, _now, versions, web=web)
    stderr().print(f"fluxfleet serve: listening on http://{host}:{port} ({svc.store.engine.dialect.name})")
    uvicorn.run(build_app(svc), host=host, port=port, log_level="warning")


@serve_app.command("keys")
def keys_cmd(
    keys: KeysOpt = None,
    rotate: Annotated[
        list[str] | None, typer.Option("--rotate", metavar="CLUSTER", help="Replace this cluster's key.")
    ] = None,
    key_file: Annotated[
        list[Path] | None,
        typer.Option(
            "--key-file", "-k", help="age key file for sops (only to re-read; encryption needs none)."
        ),
    ] = None,
    repo: RepoOpt = Path(),
    fleet_file: FleetOpt = None,
    output: OutputOpt = Format.text,
) -> None:
    """Create each cluster's HMAC key: into the service's key file, and SOPS-encrypted into the
    cluster's folder as the Secret its notification Provider signs events with."""
    from fluxfleet.fleet.load import load_fleet
    from fluxfleet.fleet.placement import place
    from fluxfleet.generate.layout import cluster_dirs
    from fluxfleet.secrets import ops
    from fluxfleet.serve import keys as k

    fleet = load_fleet(repo, fleet_file)
    path = keys or _default_keys()
    existing = k.load_keys(path).keys if path.exists() else {}
    names = {c.name for c in fleet.clusters}
    for cluster in rotate or []:
        if cluster not in names:
            raise FleetError(f"unknown cluster {cluster!r}", field="--rotate")
    current = {c: v.decode() for c, v in existing.items()}
    placement = place(fleet)
    dirs = cluster_dirs(fleet)
    changed: list[str] = []
    plan: dict[str, bytes] = {}
    with ops.sops_with_keys(key_file or []) as sops:
        for c in fleet.clusters:
            rel = f"{dirs[c.name]}/{k.SECRET_FILE}"
            new = c.name not in current or c.name in (rotate or [])
            if new:
                current[c.name] = k.new_key()
            if new or not (repo / rel).exists():
                recipients = ops.recipients_for_path(fleet, placement, rel, c.environment)
                plan[rel] = ops.encrypt_bytes(
                    fleet, sops, k.secret_manifest(current[c.name]), rel, recipients
                )
                changed.append(c.name)
    # the service's copy first: a Secret in git without the service knowing its key would be refused
    k.write_keys(path, current, repo)
    for rel, content in plan.items():
        ops.write_file(repo, rel, content)
    result = {"keyFile": str(path), "written": sorted(plan), "clusters": sorted(changed)}
    if output is not Format.text:
        echo(structured(result, output))
        return
    echo(f"key file: {path} ({len(current)} cluster(s))")
    for rel in sorted(plan):
        echo(f"  wrote {rel} (sops-encrypted)")
    if not plan:
        echo("  every cluster already has its key")


@serve_app.command("token")
def token_cmd(
    subject: Annotated[str, typer.Option("--subject", help="Who the token acts as (e.g. ci@example.com).")],
    scope: Annotated[
        list[str], typer.Option("--scope", help="viewer, admin, approver:<env>[:<team>] (repeatable).")
    ],
    name: Annotated[str, typer.Option("--name", help="A label for the token.")] = "api",
    expires: Annotated[str, typer.Option("--expires", help="Lifetime, e.g. 12h, 30d.")] = "30d",
    db: DbOpt = None,
) -> None:
    """Create an API token (printed once; only its hash is stored)."""
    from fluxfleet.serve.auth import check_scope

    scopes = [check_scope(s) for s in scope]
    lifetime = _lifetime(expires)
    store = _open_store(db)
    now = _now()
    token = store.create_token(name, subject, scopes, now + lifetime, now)
    store.audit(
        "cli", "token-create", subject, {"name": name, "scopes": sorted(scopes), "expires": expires}, now
    )
    echo(token)


def _lifetime(text: str) -> timedelta:
    units = {"m": 60, "h": 3600, "d": 86400}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise FleetError(f"{text!r} is not a lifetime like 12h or 30d", field="--expires")
    seconds = int(text[:-1]) * units[text[-1]]
    if not 60 <= seconds <= 366 * 86400:
        raise FleetError("a token lives between 1m and 366d", field="--expires")
    return timedelta(seconds=seconds)


events_app = typer.Typer(
    name="events", help="Flux events recorded by the fleet service.", no_args_is_help=True
)


@events_app.command("import")
def import_cmd(
    file: Annotated[
        Path, typer.Argument(help="JSON lines (or a JSON array) of Flux events.", dir_okay=False)
    ],
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster", help="Cluster the events came from (default: each event's `cluster` metadata)."
        ),
    ] = None,
    repo: RepoOpt = Path(),
    fleet_file: FleetOpt = None,
    db: DbOpt = None,
    output: OutputOpt = Format.text,
) -> None:
    """Import events saved from Flux's `generic` provider (air-gapped sites); re-imports are skipped."""
    from fluxfleet.fleet.load import load_fleet
    from fluxfleet.serve.importer import read_events

    fleet = load_fleet(repo, fleet_file)
    events = read_events(file, cluster, {c.name for c in fleet.clusters})
    store = _open_store(db)
    stored = store.record(events, _now())
    store.audit("cli", "events-import", str(file.name), {"events": len(events), "stored": stored}, _now())
    result = {"file": str(file), "events": len(events), "stored": stored, "duplicates": len(events) - stored}
    if output is not Format.text:
        echo(structured(result, output))
    else:
        echo(f"{file}: {len(events)} event(s), {stored} new, {len(events) - stored} already stored")


audit_app = typer.Typer(name="audit", help="The service's hash-chained audit log.", no_args_is_help=True)


@audit_app.command("verify")
def verify_cmd(db: DbOpt = None, output: OutputOpt = Format.text) -> None:
    """Check the audit log's hash chain; exit 1 when an entry was changed, removed or reordered."""
    from fluxfleet.store.audit import verify_chain

    count, problem = verify_chain(_open_store(db).audit_entries())
    result: dict[str, Any] = {"entries": count, "ok": problem is None, "problem": problem}
    if output is not Format.text:
        echo(structured(result, output))
    else:
        echo(
            f"audit log: {count} entries, chain intact"
            if problem is None
            else f"audit log TAMPERED: {problem}"
        )
    if problem is not None:
        raise typer.Exit(1)


@audit_app.command("export")
def export_cmd(db: DbOpt = None) -> None:
    """Print the audit log as JSON lines (one entry per line, with its hashes)."""
    for entry in _open_store(db).audit_entries():
        echo(json.dumps(entry.as_dict(), sort_keys=True))


def register(app: typer.Typer) -> None:
    app.add_typer(serve_app)
    app.add_typer(events_app)
    app.add_typer(audit_app)
