"""Bearer-token check (pure ASGI, so event streams are not buffered by a middleware).

``api_token`` opens every route. A named token (``[token NAME]``, core/tokens.py) opens the
OpenAI-compatible routes only (``routes = all``: every route), and the request carries its
rule in the scope (:data:`SCOPE_KEY`) for the routes that limit its models.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from llamadash.api.errors import error_response
from llamadash.core.tokens import NamedToken, TokenRule

OPEN_PATHS = frozenset({"/healthz"})
V1_PATHS = ("/v1/", "/completion", "/infill", "/healthz")
"""The OpenAI-compatible routes (path prefixes): the proxy port's and a named token's."""
SCOPE_KEY = "llamadash.token"  # where a request carries its named token


def token_matches(header: bytes | None, token: str) -> bool:
    """True when ``header`` is ``Bearer <token>`` (scheme case-insensitive, constant time)."""
    if header is None or not token:
        return False
    scheme, _, given = header.partition(b" ")
    expected = token.encode()
    # compare_digest always runs, so a wrong scheme costs the same time as a wrong token.
    same = hmac.compare_digest(given.strip(), expected)
    return same and scheme.lower() == b"bearer"


def token_rule(scope: Scope) -> TokenRule | None:
    """The named token a request came with (None: api_token, or no token needed)."""
    named = scope.get(SCOPE_KEY)
    return named.rule if isinstance(named, NamedToken) else None


class BearerAuth:
    """Answers 401 to every request but OPEN_PATHS that lacks ``Authorization: Bearer <token>``.

    With an empty token and no named tokens it lets everything through (loopback-only
    deployments). A named token off its routes gets 403.
    """

    def __init__(self, app: ASGIApp, token: str, named: tuple[NamedToken, ...] = ()) -> None:
        self.app = app
        self.token = token
        self.named = named

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the header, then pass the request on."""
        if scope["type"] != "http" or not (self.token or self.named) or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        if token_matches(header, self.token):
            await self.app(scope, receive, send)
            return
        named = self._named(header)
        if named is not None and (named.rule.all_routes or scope["path"].startswith(V1_PATHS)):
            scope[SCOPE_KEY] = named
            await self.app(scope, receive, send)
            return
        if named is not None:
            response = error_response(
                403,
                "route_not_allowed",
                f"token {named.rule.name!r} may use only the /v1 routes"
                f" (routes = all in its [token {named.rule.name}] section allows the rest)",
            )
        else:
            reason = "missing" if header is None else "wrong"
            response = error_response(
                401,
                "unauthorized",
                f"{reason} bearer token: send 'Authorization: Bearer <api_token>'",
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="llamadash"'
        await response(scope, receive, send)

    def _named(self, header: bytes | None) -> NamedToken | None:
        """The named token the header carries; every secret is compared (constant time)."""
        found = None
        for named in self.named:
            if token_matches(header, named.secret) and found is None:
                found = named
        return found
