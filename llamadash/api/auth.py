"""Bearer-token check (pure ASGI, so event streams are not buffered by a middleware)."""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from llamadash.api.errors import error_response

OPEN_PATHS = frozenset({"/healthz"})


def token_matches(header: bytes | None, token: str) -> bool:
    """True when ``header`` is ``Bearer <token>`` (scheme case-insensitive, constant time)."""
    if header is None:
        return False
    scheme, _, given = header.partition(b" ")
    expected = token.encode()
    # compare_digest always runs, so a wrong scheme costs the same time as a wrong token.
    same = hmac.compare_digest(given.strip(), expected)
    return same and scheme.lower() == b"bearer"


class BearerAuth:
    """Answers 401 to every request but OPEN_PATHS that lacks ``Authorization: Bearer <token>``.

    With an empty token it lets everything through (loopback-only deployments).
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the header, then pass the request on."""
        if scope["type"] != "http" or not self.token or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        if token_matches(header, self.token):
            await self.app(scope, receive, send)
            return
        reason = "missing" if header is None else "wrong"
        response = error_response(
            401,
            "unauthorized",
            f"{reason} bearer token: send 'Authorization: Bearer <api_token>'",
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="llamadash"'
        await response(scope, receive, send)
