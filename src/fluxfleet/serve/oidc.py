"""OpenID Connect sign-in: authorization code flow with PKCE (S256), through authlib.

Discovery, the authorization URL and the code exchange use authlib's OAuth 2 client; the ID token
is verified against the issuer's JWKS (signature, issuer, audience, expiry, nonce). Roles come
from the groups claim through fleet.yaml's ``spec.service.roles``.
"""

from __future__ import annotations

import secrets
import warnings
from dataclasses import dataclass
from typing import Any

from fluxfleet.errors import FleetError


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str | None
    redirect_uri: str
    groups_claim: str = "groups"
    scope: str = "openid email profile"


@dataclass(frozen=True)
class LoginStart:
    url: str
    state: str
    nonce: str
    verifier: str


@dataclass(frozen=True)
class Identity:
    subject: str
    groups: tuple[str, ...]


class Oidc:
    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self._meta: dict[str, Any] | None = None
        self._jwks: dict[str, Any] | None = None

    def _client(self) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from authlib.integrations.httpx_client import AsyncOAuth2Client

        return AsyncOAuth2Client(
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            redirect_uri=self.config.redirect_uri,
            scope=self.config.scope,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_post" if self.config.client_secret else "none",
            timeout=10,
        )

    async def metadata(self) -> dict[str, Any]:
        if self._meta is None:
            import httpx

            url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            async with httpx.AsyncClient(timeout=10) as http:
                res = await http.get(url)
            meta = res.json() if res.status_code == 200 else None
            if not isinstance(meta, dict) or meta.get("issuer") != self.config.issuer:
                raise FleetError(f"OIDC discovery failed at {url}", field="--oidc-issuer")
            self._meta = meta
        return self._meta

    async def start(self) -> LoginStart:
        meta = await self.metadata()
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(16)
        async with self._client() as client:
            url, state = client.create_authorization_url(
                meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
            )
        return LoginStart(url, state, nonce, verifier)

    async def finish(self, code: str, verifier: str, nonce: str) -> Identity:
        meta = await self.metadata()
        async with self._client() as client:
            token = await client.fetch_token(meta["token_endpoint"], code=code, code_verifier=verifier)
            if self._jwks is None:
                self._jwks = (await client.get(meta["jwks_uri"])).json()
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise FleetError("the identity provider returned no ID token")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from authlib.jose import JsonWebKey, jwt
            from authlib.jose.errors import JoseError

            try:
                claims = jwt.decode(
                    id_token,
                    JsonWebKey.import_key_set(self._jwks),
                    claims_options={
                        "iss": {"essential": True, "value": self.config.issuer},
                        "aud": {"essential": True, "value": self.config.client_id},
                        "exp": {"essential": True},
                        "nonce": {"essential": True, "value": nonce},
                    },
                )
                claims.validate(leeway=30)
            except JoseError as exc:
                raise FleetError(f"the ID token was refused: {exc.error}") from None
        subject = claims.get("email") or claims.get("sub")
        groups = claims.get(self.config.groups_claim) or []
        if not isinstance(subject, str) or not isinstance(groups, list):
            raise FleetError("the ID token lacks a subject or a groups list")
        return Identity(subject, tuple(str(g) for g in groups))
