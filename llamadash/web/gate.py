"""Who may reach ``llamadash web``: the API's browser rules, and a token kept in a cookie.

The page's websocket carries the dashboard's keys (switch, stop), so a page of another origin
must never open it: the side API's rules (api/guard.py) apply to the websocket and to every
method but GET/HEAD; a plain GET (the page, its script) needs only a loopback Host, so a link
from elsewhere still opens the dashboard. With a token, the first visit brings it
(``?token=…`` or ``Authorization: Bearer``) and is redirected to the same URL without it, with
the token kept in an HttpOnly, SameSite=Strict cookie the websocket handshake then carries.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from llamadash.api.auth import token_matches
from llamadash.api.errors import ApiError
from llamadash.api.guard import BrowserRules

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

QUERY_KEY = "token"
SAFE_METHODS = frozenset({"GET", "HEAD"})
# Host is written into the page (the websocket's URL): only the characters a name:port has.
_HOST_CHARS = re.compile(r"[A-Za-z0-9.\-\[\]:]+\Z")
# Every answer: never framed (a framing page could trick keys into it), scripts and
# connections only from this origin (textual-serve's page also links a web font elsewhere).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline';"
    " style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self';"
    " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
HOW_TO_GET_IN = (
    "llamadash web needs its token: open the URL `llamadash web` printed when it started"
    " (it ends in ?token=...), or send 'Authorization: Bearer <token>'. The token is web_token"
    " in models.conf, $LLAMADASH_WEB_TOKEN or --token.\n"
)


class WebGate:
    """The checks every request to ``llamadash web`` passes, as aiohttp middleware.

    Args:
        bind_host: the address the listener is bound to.
        port: its port (names the cookie, so two listeners on one host keep their own).
        token: the token demanded; empty: none (loopback only, checked by the caller).
    """

    def __init__(self, *, bind_host: str, port: int, token: str) -> None:
        self.rules = BrowserRules(bind_host=bind_host, token=bool(token))
        self.token = token
        self.cookie = f"llamadash_web_{port}"

    def install(self, app: web.Application) -> None:
        """Check every request of ``app`` and add SECURITY_HEADERS to every answer."""

        @web.middleware
        async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
            return await self.middleware(request, handler)

        app.middlewares.append(gate)
        app.on_response_prepare.append(_add_security_headers)

    def refusal(self, request: web.Request) -> ApiError | None:
        """The 421/403 a request gets from the browser rules, or None."""
        host = request.headers.get("Host")
        if host is not None and not _HOST_CHARS.match(host):
            return ApiError(421, "foreign_host", f"refusing malformed Host {host[:80]!r}")
        headers: dict[bytes, bytes] = {}
        for name, value in request.headers.items():
            headers.setdefault(name.lower().encode("latin-1"), value.encode("latin-1"))
        if request.method in SAFE_METHODS and not _is_upgrade(request):
            headers = {b"host": headers[b"host"]} if b"host" in headers else {}
        return self.rules.refusal(headers)

    def admitted(self, request: web.Request) -> bool:
        """Whether the request carries the token (any of the three ways), or none is set."""
        if not self.token:
            return True
        authorization = request.headers.get("Authorization")
        if authorization is not None:
            return token_matches(authorization.encode("latin-1"), self.token)
        given = request.query.get(QUERY_KEY, request.cookies.get(self.cookie))
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Refuse, ask for the token, trade a ``?token=`` for a cookie, or pass on."""
        refused = self.refusal(request)
        if refused is not None:
            return web.Response(status=refused.http_status, text=refused.message + "\n")
        if not self.admitted(request):
            return web.Response(
                status=401,
                text=HOW_TO_GET_IN,
                headers={"WWW-Authenticate": 'Bearer realm="llamadash web"'},
            )
        page_visit = request.method in SAFE_METHODS and not _is_upgrade(request)
        if self.token and QUERY_KEY in request.query and page_visit:
            kept = [(k, v) for k, v in request.query.items() if k != QUERY_KEY]
            moved = web.Response(
                status=303, headers={"Location": str(request.rel_url.with_query(kept))}
            )
            moved.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict", path="/")
            return moved
        return await handler(request)


def _is_upgrade(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


async def _add_security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)
