"""Create an age key for an environment: private part to a 0600 file outside the repository.

The key file has the ``age-keygen`` layout (creation time, public key comment, identity), so the
same file works with sops, age and as the ``age.agekey`` entry of Flux's ``sops-age`` Secret.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyrage

from fluxfleet.errors import FleetError


@dataclass(frozen=True)
class NewKey:
    path: Path
    recipient: str


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def check_key_path(path: Path, repo: Path) -> Path:
    """The absolute key path; refuses paths inside the repository (a private key must never be committed)."""
    target = path.expanduser()
    if not target.is_absolute():
        target = Path.cwd() / target
    # Resolve the parent (the file does not exist yet) so symlinked folders cannot sneak it in.
    resolved = target.parent.resolve() / target.name
    repo_resolved = repo.resolve()
    if _inside(resolved, repo_resolved) or _inside(target, repo_resolved):
        raise FleetError(
            f"refusing to write a private key inside the repository ({resolved})",
            hint="choose a path outside it, e.g. ~/.config/sops/age/<env>.agekey",
        )
    if resolved.exists() or resolved.is_symlink():
        raise FleetError(
            f"{resolved} already exists; refusing to overwrite a key",
            hint="choose a new file name (an old key may still be needed to decrypt existing files)",
        )
    return resolved


def generate_key(path: Path, repo: Path, *, now: datetime | None = None) -> NewKey:
    """Write a new X25519 identity to ``path`` (mode 0600, exclusive create) and return its recipient."""
    target = check_key_path(path, repo)
    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    content = f"# created: {stamp}\n# public key: {recipient}\n{identity}\n"
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise FleetError(f"{target} already exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise FleetError(f"cannot create the key file: {exc.strerror}", file=str(target)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
        os.chmod(target, 0o600)  # the umask cannot widen it, but an odd filesystem might
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return NewKey(target, recipient)


def sops_age_secret_command(key_file: str) -> str:
    """The command that gives a cluster's Flux the age key it decrypts with (Secret ``sops-age``)."""
    return f"kubectl create secret generic sops-age --namespace=flux-system --from-file=age.agekey={key_file}"
