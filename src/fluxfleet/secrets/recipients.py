"""Age recipients and identities: validate them and read key files (pyrage, no private key logged)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pyrage

from fluxfleet.errors import FleetError

PQ_PREFIX = "age1pq1"
_BECH32_PQ = re.compile(r"^age1pq1[02-9ac-hj-np-z]{100,}$")
IDENTITY_PREFIX = "AGE-SECRET-KEY-1"
MAX_KEY_FILE_BYTES = 64 * 1024


def recipient_error(recipient: str) -> str | None:
    """Why ``recipient`` cannot be used, or None. X25519 (``age1…``) and SSH recipients are accepted."""
    r = recipient.strip()
    if r.startswith(PQ_PREFIX):
        # pyrage cannot parse hybrid post-quantum recipients, but sops (and Flux) can use them.
        return None if _BECH32_PQ.match(r) else f"{_short(r)} is not a valid post-quantum age recipient"
    if r.startswith("age1"):
        if r.count("1") > 1 and not _is_x25519(r):
            return f"{_short(r)} looks like an age plugin recipient, which fluxfleet does not support"
        return None if _is_x25519(r) else f"{_short(r)} is not a valid age recipient (bad Bech32)"
    if r.startswith(("ssh-ed25519 ", "ssh-rsa ")):
        try:
            pyrage.ssh.Recipient.from_str(r)
        except Exception:
            return f"{_short(r)} is not a valid SSH public key"
        return None
    return f"{_short(r)} is not an age recipient (expected age1…)"


def _is_x25519(r: str) -> bool:
    try:
        pyrage.x25519.Recipient.from_str(r)
    except Exception:
        return False
    return True


def _short(r: str) -> str:
    return repr(r if len(r) <= 24 else r[:20] + "…")


@dataclass(frozen=True)
class KeyFile:
    """The public side of an age key file: which recipients its identities open."""

    path: Path
    recipients: tuple[str, ...]


def read_key_file(path: Path) -> KeyFile:
    """Parse an ``age-keygen`` style file and return the recipients of its identities.

    The private keys are parsed only to derive their public recipients; they are never returned.
    """
    try:
        size = path.stat().st_size
        if size > MAX_KEY_FILE_BYTES:
            raise FleetError(f"age key file is {size} bytes; that is not an age key file", file=str(path))
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FleetError(
            "age key file not found",
            file=str(path),
            hint="create one with `fluxfleet secrets keygen --env ENV --key-file PATH`",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FleetError(f"cannot read the age key file: {exc}", file=str(path)) from None
    recipients: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("AGE-SECRET-KEY-PQ-1"):
            raise FleetError(
                "post-quantum age identities are not supported by pyrage or the bundled sops",
                file=str(path),
                line=number,
            )
        if not line.startswith(IDENTITY_PREFIX):
            # Never echo the line: it may be a mangled private key.
            raise FleetError("line is not an age identity (AGE-SECRET-KEY-1…)", file=str(path), line=number)
        try:
            identity = pyrage.x25519.Identity.from_str(line)
        except Exception:
            raise FleetError("malformed age identity", file=str(path), line=number) from None
        recipients.append(str(identity.to_public()))
    if not recipients:
        raise FleetError("the age key file holds no identity", file=str(path))
    return KeyFile(path, tuple(recipients))
