"""Browser sessions: a signed, expiring cookie (HMAC-SHA256), set HttpOnly, SameSite=Lax and
Secure when the service is served over https.

Signing in always issues a new session id (no fixation: nothing from before sign-in survives), and
each session has its own CSRF token that every form posts back. The signing secret is shared by
replicas (``FLUXFLEET_SESSION_SECRET``) or made at start for a single one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

COOKIE = "fluxfleet_session"
LOGIN_COOKIE = "fluxfleet_login"  # OIDC state, nonce and PKCE verifier between redirect and callback
LIFETIME = 8 * 3600


@dataclass(frozen=True)
class Session:
    sid: str
    subject: str
    scopes: frozenset[str]
    expires: int


class Signer:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the session secret must be at least 32 bytes")
        self._key = secret

    def _mac(self, payload: bytes) -> str:
        return (
            base64.urlsafe_b64encode(hmac.new(self._key, payload, hashlib.sha256).digest())
            .decode()
            .rstrip("=")
        )

    def dumps(self, data: dict[str, Any]) -> str:
        payload = base64.urlsafe_b64encode(json.dumps(data, sort_keys=True).encode()).decode().rstrip("=")
        return f"{payload}.{self._mac(payload.encode())}"

    def loads(self, value: str | None) -> dict[str, Any] | None:
        if not value or value.count(".") != 1 or len(value) > 8192:
            return None
        payload, mac = value.split(".")
        if not hmac.compare_digest(mac, self._mac(payload.encode())):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("exp"), int) or data["exp"] < time.time():
            return None
        return data

    def new_session(self, subject: str, scopes: frozenset[str]) -> str:
        data = {
            "sid": secrets.token_urlsafe(16),
            "sub": subject,
            "scopes": sorted(scopes),
            "exp": int(time.time()) + LIFETIME,
        }
        return self.dumps(data)

    def session(self, cookie: str | None) -> Session | None:
        data = self.loads(cookie)
        if data is None or not isinstance(data.get("sid"), str) or not isinstance(data.get("sub"), str):
            return None
        return Session(data["sid"], data["sub"], frozenset(data.get("scopes") or ()), data["exp"])

    def csrf(self, session: Session) -> str:
        return self._mac(f"csrf:{session.sid}".encode())

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf(session), token or "")
