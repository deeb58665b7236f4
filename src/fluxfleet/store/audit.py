"""The audit log's hash chain (pure): each entry's hash covers its content and the previous hash,
so changing, removing or reordering any entry breaks every hash after it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "detail": self.detail,
            "prevHash": self.prev_hash,
            "hash": self.hash,
        }


def entry_hash(
    prev_hash: str, seq: int, at: datetime, actor: str, action: str, subject: str, detail: dict[str, Any]
) -> str:
    body = json.dumps(
        [seq, at.isoformat(), actor, action, subject, detail], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def verify_chain(entries: Iterable[AuditEntry]) -> tuple[int, str | None]:
    """(entries checked, the first problem or None)."""
    prev = GENESIS
    count = 0
    for expected_seq, e in enumerate(entries, start=1):
        count += 1
        if e.seq != expected_seq:
            return count, f"entry {e.seq}: expected sequence number {expected_seq} (an entry is missing)"
        if e.prev_hash != prev:
            return count, f"entry {e.seq}: does not link to the entry before it"
        if entry_hash(prev, e.seq, e.at, e.actor, e.action, e.subject, e.detail) != e.hash:
            return count, f"entry {e.seq}: content does not match its hash (changed after it was written)"
        prev = e.hash
    return count, None
