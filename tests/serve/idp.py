"""A real OpenID Connect provider on loopback for the sign-in tests: discovery, JWKS, authorize
(a login form), and token (authorization code with PKCE S256; RS256 ID tokens), built on authlib's
server-side pieces (PKCE challenge, JOSE signing). The service under test only sees the protocol."""

from __future__ import annotations

import secrets
import socket
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

CLIENT_ID = "fluxfleet-dashboard"


@dataclass
class Grant:
    user: str
    client_id: str
    redirect_uri: str
    nonce: str
    challenge: str


@dataclass
class OidcTestProvider:
    issuer: str = ""
    users: dict[str, list[str]] = field(default_factory=dict)  # email -> groups
    grants: dict[str, Grant] = field(default_factory=dict)
    key: Any = None
    server: Any = None
    thread: threading.Thread | None = None

    def app(self) -> Starlette:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.key = JsonWebKey.generate_key("RSA", 2048, is_private=True, options={"kid": "test-1"})

        async def discovery(request: Request) -> Response:
            return JSONResponse(
                {
                    "issuer": self.issuer,
                    "authorization_endpoint": f"{self.issuer}/authorize",
                    "token_endpoint": f"{self.issuer}/token",
                    "jwks_uri": f"{self.issuer}/jwks",
                    "response_types_supported": ["code"],
                    "code_challenge_methods_supported": ["S256"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "subject_types_supported": ["public"],
                }
            )

        async def jwks(request: Request) -> Response:
            return JSONResponse({"keys": [self.key.as_dict(is_private=False)]})

        async def authorize(request: Request) -> Response:
            q = request.query_params
            if request.method == "GET":
                if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256":
                    return HTMLResponse("PKCE S256 and response_type=code are required", status_code=400)
                hidden = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in q.items())
                return HTMLResponse(
                    f'<form method="post"><h1>Test IdP</h1>{hidden}'
                    '<label>Email <input name="username" id="username"></label><button id="signin">Sign in</button></form>'
                )
            form = await request.form()
            user = str(form.get("username"))
            if user not in self.users or form.get("client_id") != CLIENT_ID:
                return HTMLResponse("unknown user", status_code=403)
            code = secrets.token_urlsafe(16)
            self.grants[code] = Grant(
                user,
                CLIENT_ID,
                str(form["redirect_uri"]),
                str(form.get("nonce", "")),
                str(form["code_challenge"]),
            )
            target = str(form["redirect_uri"]) + "?" + urlencode({"code": code, "state": str(form["state"])})
            return RedirectResponse(target, status_code=303)

        async def token(request: Request) -> Response:
            form = await request.form()
            grant = self.grants.pop(str(form.get("code")), None)
            if grant is None or form.get("grant_type") != "authorization_code":
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            verifier = str(form.get("code_verifier") or "")
            if (
                create_s256_code_challenge(verifier) != grant.challenge
                or form.get("redirect_uri") != grant.redirect_uri
            ):
                return JSONResponse({"error": "invalid_grant", "error_description": "PKCE"}, status_code=400)
            now = int(time.time())
            claims = {
                "iss": self.issuer,
                "sub": grant.user.split("@")[0],
                "aud": grant.client_id,
                "iat": now,
                "exp": now + 300,
                "nonce": grant.nonce,
                "email": grant.user,
                "groups": self.users[grant.user],
            }
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                id_token = jwt.encode({"alg": "RS256", "kid": "test-1"}, claims, self.key).decode()
            return JSONResponse(
                {
                    "access_token": secrets.token_urlsafe(16),
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": id_token,
                }
            )

        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", discovery),
                Route("/jwks", jwks),
                Route("/authorize", authorize, methods=["GET", "POST"]),
                Route("/token", token, methods=["POST"]),
            ]
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """A Starlette app on a loopback port in a thread, stopped on exit."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        import uvicorn

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return self
            time.sleep(0.02)
        raise AssertionError("server did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_idp(users: dict[str, list[str]]) -> tuple[OidcTestProvider, Served]:
    idp = OidcTestProvider(users=users)
    served = Served(idp.app())
    idp.issuer = served.url
    served.__enter__()
    httpx.get(f"{idp.issuer}/.well-known/openid-configuration", timeout=5).raise_for_status()
    return idp, served
