"""The secrets workflows behind the CLI: encrypt, decrypt, edit and rotate files of a fleet repo.

Recipients come from fleet.yaml through :mod:`fluxfleet.secrets.scope` (the same mapping that
writes ``.sops.yaml``), so a file is always encrypted for every environment it is deployed to.
Every write is atomic; plaintext is held in memory, and only ``edit`` puts it in a 0600 file inside
a private directory that is removed on every exit path (errors, Ctrl-C, SIGTERM, SIGHUP).
"""

from __future__ import annotations

import base64
import binascii
import os
import shlex
import signal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from fluxfleet import proc, yamlio
from fluxfleet.errors import FleetError
from fluxfleet.fleet.load import Fleet
from fluxfleet.fleet.placement import Placement
from fluxfleet.fsutil import safe_join, write_plan
from fluxfleet.generate.sops_rules import recipients_for
from fluxfleet.secrets.files import SopsFile, read_sops_file, sops_files
from fluxfleet.secrets.scope import scope_of
from fluxfleet.secrets.sops import Sops, file_type_of, private_dir

MAX_PLAINTEXT_BYTES = 1024 * 1024


# ---------------------------------------------------------------- locating files


def repo_relative(repo: Path, file: Path) -> str:
    """``file`` (absolute, or relative to the working directory) as a repository-relative path."""
    root = repo.resolve()
    absolute = file if file.is_absolute() else Path.cwd() / file
    try:
        rel = absolute.resolve().relative_to(root).as_posix()
    except ValueError:
        raise FleetError(
            f"{file} is outside the repository {root}", hint="pass a file inside --repo"
        ) from None
    safe_join(root, rel)
    return rel


def _read(repo: Path, rel: str, limit: int = MAX_PLAINTEXT_BYTES) -> bytes:
    path = safe_join(repo, rel)
    try:
        if path.stat().st_size > limit:
            raise FleetError(f"file is larger than {limit} bytes", file=rel)
        return path.read_bytes()
    except FileNotFoundError:
        raise FleetError("file not found", file=rel) from None
    except IsADirectoryError:
        raise FleetError("is a directory, not a file", file=rel) from None
    except OSError as exc:
        raise FleetError(f"cannot read: {exc.strerror}", file=rel) from None


# ---------------------------------------------------------------- recipients


@dataclass(frozen=True)
class Recipients:
    recipients: tuple[str, ...]
    envs: tuple[str, ...]
    why: str


def recipients_for_path(fleet: Fleet, placement: Placement, rel: str, env: str | None = None) -> Recipients:
    """Who a file must be encrypted for: its environments' recipients (or ``env``'s, when named)."""
    if env is not None:
        fleet.env(env)  # unknown environment -> FleetError with a suggestion
        envs: tuple[str, ...] = (env,)
        why = f"environment {env} (--env)"
    else:
        scope = scope_of(fleet, placement, rel)
        if scope is None:
            raise FleetError(
                "cannot tell which environments this file is deployed to",
                file=rel,
                hint="put it under a cluster folder or an app/component folder, or pass --env",
            )
        envs, why = scope.envs, scope.why
    found = recipients_for(fleet, envs)
    if not found:
        missing = [e for e in envs if not fleet.secrets.age_recipients.get(e)]
        raise FleetError(
            f"environment {', '.join(missing)} has no age recipient",
            file=rel,
            hint=f"run `fluxfleet secrets keygen --env {missing[0]} --key-file PATH` first",
        )
    return Recipients(found, envs, why)


# ---------------------------------------------------------------- plaintext checks


def validate_plaintext(raw: bytes, file_type: str, display: str) -> None:
    """Refuse input sops would mangle or Kubernetes would reject, before anything is encrypted.

    Error messages name keys and lines, never values.
    """
    if not raw.strip():
        raise FleetError("the file is empty: nothing to encrypt", file=display)
    if file_type not in ("yaml", "json"):
        return
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FleetError("the file is not UTF-8 text", file=display) from None
    docs = yamlio.load_all(text, display)
    if not docs:
        raise FleetError("the file holds no document", file=display)
    for index, doc in enumerate(docs):
        where = f"document {index + 1}" if len(docs) > 1 else "the document"
        if not isinstance(doc, dict):
            raise FleetError(f"{where} is not a mapping (sops encrypts mappings only)", file=display)
        if "sops" in doc:
            raise FleetError(f"{where} already has a `sops` block: it is encrypted", file=display)
        for key in doc:
            if not isinstance(key, str):
                raise FleetError(f"{where} has a non-string key {key!r}", file=display)
        if doc.get("kind") == "Secret":
            _validate_secret(doc, display)


def _validate_secret(doc: dict[str, Any], display: str) -> None:
    name = (doc.get("metadata") or {}).get("name", "?")
    if not (doc.get("data") or doc.get("stringData")):
        raise FleetError(f"Secret {name} has no data or stringData: nothing to encrypt", file=display)
    for section in ("data", "stringData"):
        values = doc.get(section)
        if values is None:
            continue
        if not isinstance(values, dict):
            raise FleetError(f"Secret {name}: `{section}` must be a mapping", file=display, field=section)
        for key, value in values.items():
            if not isinstance(value, str):
                raise FleetError(
                    f"Secret {name}: {section}.{key} is a {type(value).__name__}, not a string",
                    file=display,
                    field=f"{section}.{key}",
                    hint="quote the value (Kubernetes accepts only strings here)",
                )
            if section == "data":
                try:
                    base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    raise FleetError(
                        f"Secret {name}: data.{key} is not valid base64",
                        file=display,
                        field=f"data.{key}",
                        hint="put plain text under stringData instead",
                    ) from None


# ---------------------------------------------------------------- encrypt / decrypt


def encrypt_bytes(fleet: Fleet, sops: Sops, plaintext: bytes, rel: str, recipients: Recipients) -> bytes:
    file_type = file_type_of(rel)
    validate_plaintext(plaintext, file_type, rel)
    return sops.encrypt(
        plaintext,
        display=rel,
        recipients=recipients.recipients,
        encrypted_regex=fleet.secrets.encrypted_regex,
        file_type=file_type,
    )


def encrypt_file(
    repo: Path, fleet: Fleet, placement: Placement, sops: Sops, rel: str, *, env: str | None = None
) -> tuple[bytes, Recipients]:
    """The encrypted content of plaintext file ``rel`` (not written: the caller decides)."""
    raw = _read(repo, rel)
    if read_sops_file(repo, rel) is not None:
        raise FleetError("the file is already encrypted", file=rel, hint="use `fluxfleet secrets edit`")
    recipients = recipients_for_path(fleet, placement, rel, env)
    return encrypt_bytes(fleet, sops, raw, rel, recipients), recipients


def require_sops_file(repo: Path, rel: str) -> SopsFile:
    _read(repo, rel, limit=5 * 1024 * 1024)
    found = read_sops_file(repo, rel)
    if found is None:
        raise FleetError(
            "the file is not encrypted with sops",
            file=rel,
            hint="encrypt it with `fluxfleet secrets encrypt`",
        )
    return found


def decrypt_file(repo: Path, sops: Sops, rel: str) -> bytes:
    """The plaintext (MAC verified by sops), in memory only."""
    require_sops_file(repo, rel)
    return sops.decrypt(safe_join(repo, rel), display=rel)


def write_file(repo: Path, rel: str, content: bytes) -> None:
    write_plan(repo, {rel: content.decode("utf-8")})


# ---------------------------------------------------------------- edit


@contextmanager
def _exit_on_signals() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so ``finally`` blocks (temp cleanup) still run."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        with suppress(ValueError):  # not the main thread (tests): nothing to install
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def editor_command(environ: dict[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    raw = env.get("EDITOR") or env.get("VISUAL")
    if not raw:
        raise FleetError("no editor: set $EDITOR (for example EDITOR=vi or EDITOR='code --wait')")
    try:
        argv = shlex.split(raw)
    except ValueError as exc:
        raise FleetError(f"cannot parse $EDITOR: {exc}") from None
    if not argv:
        raise FleetError("$EDITOR is empty")
    return argv


@dataclass(frozen=True)
class EditResult:
    changed: bool
    content: bytes | None  # the new encrypted file (written by the caller)


def edit_file(repo: Path, sops: Sops, rel: str, editor: Sequence[str]) -> EditResult:
    """Decrypt, let the user edit a private 0600 copy in ``editor``, re-encrypt and return it.

    sops re-encrypts through ``sops edit`` so unchanged values keep their ciphertext. Nothing is
    written to the repository here; the private directory is gone when this returns or raises.
    """
    require_sops_file(repo, rel)
    source = safe_join(repo, rel)
    before = sops.decrypt(source, display=rel)
    name = Path(rel).name
    with _exit_on_signals(), private_dir() as tmp:
        plain = tmp / name
        fd = os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(before)
        code = proc.run_interactive([*editor, str(plain)], what="editor")
        if code != 0:
            raise FleetError(f"the editor exited with status {code}; the file was not changed", file=rel)
        after = plain.read_bytes()
        plain.unlink()
        if after == before:
            return EditResult(False, None)
        validate_plaintext(after, file_type_of(rel), rel)
        copy = tmp / ("enc-" + name)
        copy.write_bytes(source.read_bytes())
        encrypted = sops.edit_with(copy, after, display=rel, stamp=tmp / "fed")
    return EditResult(True, encrypted)


# ---------------------------------------------------------------- rotate


@dataclass(frozen=True)
class RotateResult:
    path: str
    action: str  # "rotated", "unchanged", "skipped"
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "action": self.action,
            "added": list(self.added),
            "removed": list(self.removed),
            "reason": self.reason,
        }


def plan_rotation(
    fleet: Fleet, placement: Placement, files: list[SopsFile], *, env: str | None, data_key: bool
) -> list[RotateResult]:
    """What ``rotate`` would do to each sops file (pure)."""
    if env is not None:
        fleet.env(env)
    out: list[RotateResult] = []
    for f in files:
        scope = scope_of(fleet, placement, f.path)
        if scope is None:
            out.append(RotateResult(f.path, "skipped", reason="not deployed to a known environment"))
            continue
        if env is not None and env not in scope.envs:
            continue
        if f.info.other_keys:
            out.append(
                RotateResult(f.path, "skipped", reason=f"also uses {', '.join(f.info.other_keys)} keys")
            )
            continue
        wanted = recipients_for(fleet, scope.envs)
        if not wanted:
            out.append(
                RotateResult(f.path, "skipped", reason=f"{scope.why}: an environment has no recipient")
            )
            continue
        add = tuple(r for r in wanted if r not in f.info.recipients)
        remove = tuple(r for r in f.info.recipients if r not in wanted)
        if add or remove or data_key:
            out.append(RotateResult(f.path, "rotated", add, remove))
        else:
            out.append(RotateResult(f.path, "unchanged"))
    return out


def rotate(
    repo: Path,
    fleet: Fleet,
    placement: Placement,
    sops: Sops,
    *,
    env: str | None = None,
    data_key: bool = False,
    dry_run: bool = False,
) -> list[RotateResult]:
    """Re-key every sops file whose recipients differ from fleet.yaml (all of them with ``data_key``).

    ``sops rotate`` gives each such file a new data key, so a removed recipient cannot read values
    written afterwards. All files are written together at the end, or none if one fails.
    """
    results = plan_rotation(fleet, placement, sops_files(repo), env=env, data_key=data_key)
    if dry_run:
        return results
    plan: dict[str, str | None] = {}
    for r in results:
        if r.action != "rotated":
            continue
        content = sops.rotate(safe_join(repo, r.path), display=r.path, add=r.added, remove=r.removed)
        plan[r.path] = content.decode("utf-8")
    if plan:
        write_plan(repo, plan)
    return results


# ---------------------------------------------------------------- key files


@contextmanager
def sops_with_keys(key_files: Sequence[Path]) -> Iterator[Sops]:
    """A :class:`Sops` using the given key files (several are joined in a private 0600 file)."""
    if len(key_files) <= 1:
        yield Sops.locate(key_files[0] if key_files else _env_key_file())
        return
    with private_dir() as tmp:
        bundle = tmp / "keys.txt"
        fd = os.open(bundle, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            for key in key_files:
                try:
                    fh.write(key.read_bytes().rstrip(b"\n") + b"\n")
                except OSError as exc:
                    raise FleetError(f"cannot read the age key file: {exc.strerror}", file=str(key)) from None
        yield Sops.locate(bundle)


def _env_key_file() -> Path | None:
    value = os.environ.get("SOPS_AGE_KEY_FILE")
    return Path(value) if value else None
