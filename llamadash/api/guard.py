"""Refuse what only a web page would send: foreign Host names, cross-site requests, form bodies.

A loopback listener is reachable from every page the user's browser opens. Without a token,
nothing but the browser's own markers tells such a request from curl's:

* ``Host`` — a DNS-rebound page reaches 127.0.0.1 under its own name, so only loopback names are
  answered (421), unless the listener is bound elsewhere with a token (the token protects it);
* ``Origin`` and ``Sec-Fetch-Site`` — a page of another origin (another site, or another port of
  localhost) may send "simple" POSTs that need no CORS preflight; those are refused (403);
* a body a browser sent must be JSON: a same-origin form or text/plain post is refused (403).
  curl and scripts send neither Origin nor Sec-Fetch-*, so their ``curl -d`` form type stays fine.

Pure ASGI (no BaseHTTPMiddleware), so event streams are not buffered; usable by any listener
(a WebSocket handshake gets the same checks, and is closed unaccepted).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from llamadash.api.errors import ApiError, error_response
from llamadash.core.net import is_loopback

# Sec-Fetch-Site values that mean "a page of another origin sent this".
FOREIGN_SITES = frozenset({b"cross-site", b"same-site"})
JSON_TYPE = b"application/json"
_SHOWN_CHARS = 80


def split_host(value: str) -> tuple[str, int | None] | None:
    """``name[:port]`` (``[v6]:port`` too) as (lowercased name without brackets, port).

    Returns None when ``value`` is not a well-formed Host header or Origin authority.
    """
    value = value.strip().lower()
    if value.startswith("["):
        name, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return None
        colon, port = rest[:1], rest[1:]
    else:
        name, colon, port = value.partition(":")
    if not name or (colon and port and not port.isdigit()):  # also a bare IPv6 address
        return None
    return name, int(port) if port else None


def _shown(raw: bytes) -> str:
    text = raw.decode("latin-1")
    return repr(text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…")


class BrowserRules:
    """The rules alone, for a listener of any framework (``llamadash web`` is aiohttp).

    Args:
        bind_host: the address the listener is bound to.
        token: whether a token is demanded; with one, a listener bound off loopback answers
            any Host name (it is reached by names we cannot know; the token protects it).
    """

    def __init__(self, *, bind_host: str, token: bool) -> None:
        self.any_host = token and not is_loopback(bind_host)

    def refusal(self, headers: dict[bytes, bytes]) -> ApiError | None:
        """The error to answer a request with these (lowercase-named) headers, or None."""
        host = headers.get(b"host")
        # No browser omits Host; a client that does (HTTP/1.0) is not a rebound page.
        if host is not None:
            parsed = split_host(host.decode("latin-1"))
            if parsed is None:
                return ApiError(
                    421, "foreign_host", f"refusing malformed Host {_shown(host)} (not name[:port])"
                )
            if not self.any_host and not is_loopback(parsed[0]):
                return ApiError(
                    421,
                    "foreign_host",
                    f"refusing Host {_shown(host)}: this API answers only to 127.0.0.1, localhost"
                    " or [::1] (a foreign name is how a DNS-rebinding web page reaches it)",
                )
        site = headers.get(b"sec-fetch-site", b"").strip().lower()
        if site in FOREIGN_SITES:
            return ApiError(
                403,
                "cross_site",
                f"refusing a {site.decode('latin-1')} request (Sec-Fetch-Site): web pages of"
                " other origins may not use this API; use curl, a script or the llamadash CLI",
            )
        origin = headers.get(b"origin")
        if origin is not None and not _same_origin(origin, host):
            return ApiError(
                403,
                "cross_site",
                f"refusing a request from Origin {_shown(origin)}: web pages of other origins"
                " may not use this API; use curl, a script or the llamadash CLI",
            )
        from_browser = origin is not None or any(k.startswith(b"sec-fetch-") for k in headers)
        if from_browser and not _json_or_no_body(headers):
            kind = headers.get(b"content-type")
            return ApiError(
                403,
                "not_json",
                f"refusing a {_shown(kind) if kind else 'untyped'} body from a browser (a form"
                " or text/plain post needs no CORS check): send Content-Type: application/json",
            )
        return None


class BrowserGuard(BrowserRules):
    """Answers 421 to a foreign Host and 403 to cross-site or non-JSON browser requests.

    Args:
        app: the ASGI app to protect (wrap the whole app, so routes added later are covered).
        bind_host: the address the listener is bound to.
        token: whether a bearer token is demanded (see BrowserRules).
    """

    def __init__(self, app: ASGIApp, *, bind_host: str, token: bool) -> None:
        super().__init__(bind_host=bind_host, token=token)
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the headers, then pass the request on."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for key, value in scope["headers"]:
            headers.setdefault(key.lower(), value)  # the first, as Starlette's Request reads it
        refused = self.refusal(headers)
        if refused is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":  # closing before accepting: the server answers 403
            await receive()
            await send({"type": "websocket.close", "code": 1008, "reason": refused.message})
        else:
            response = error_response(refused.http_status, refused.code, refused.message)
            await response(scope, receive, send)


def _same_origin(origin: bytes, host: bytes | None) -> bool:
    """Whether ``origin`` is the listener's own origin: ``http://`` + the Host it was sent to."""
    scheme, sep, authority = origin.decode("latin-1").strip().lower().partition("://")
    if host is None or scheme != "http" or not sep:
        return False  # also "null" (sandboxed frames, file: pages)
    theirs = split_host(authority)
    ours = split_host(host.decode("latin-1"))
    if theirs is None or ours is None:
        return False
    # Browsers leave the default port out of both headers; compare with it filled in.
    return (theirs[0], theirs[1] or 80) == (ours[0], ours[1] or 80)


def _json_or_no_body(headers: dict[bytes, bytes]) -> bool:
    """A JSON Content-Type, or no Content-Type and no body."""
    kind = headers.get(b"content-type")
    if kind is not None:
        return kind.partition(b";")[0].strip().lower() == JSON_TYPE
    length = headers.get(b"content-length", b"0").strip()
    return b"transfer-encoding" not in headers and length in (b"", b"0")
