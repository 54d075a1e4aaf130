"""Listening sockets for the API, the uvicorn server it runs on, and the /v1-only port.

The API binds its sockets itself, so a busy port is an ordinary exception (uvicorn would
``sys.exit`` from inside a task), and leaves logging and signals to the host process.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from llamadash.api.auth import V1_PATHS
from llamadash.api.errors import error_response


class ApiBindError(RuntimeError):
    """The API cannot (or must not) listen where it was asked to."""


def bind_socket(host: str, port: int, setting: str) -> socket.socket:
    """A TCP socket bound to ``host:port`` (0: any free port), not yet listening.

    Raises:
        ApiBindError: the host does not resolve, or the port cannot be bound (naming
            ``setting``, the setting to change).
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ApiBindError(f"cannot resolve API host {host!r}: {exc}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ApiBindError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
            f" (another program may use it; set {setting} or pass --port)"
        ) from None
    return sock


class FastPaths:
    """POSTs to the forwarded routes go straight to their guarded endpoint (``app.state.fast``)."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.fast: dict[str, ASGIApp] = getattr(app.state, "fast", {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch a forwarded POST directly; anything else to the app."""
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self.fast.get(scope["path"])
            if endpoint is not None:
                scope["app"] = self.app
                await endpoint(scope, receive, send)
                return
        await self.app(scope, receive, send)


class ProxyPortOnly:
    """On the proxy port, only the OpenAI-compatible routes (and /healthz) exist (404 else)."""

    def __init__(self, app: ASGIApp, proxy_port: Callable[[], int | None]) -> None:
        self.app = app
        self.proxy_port = proxy_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, unless it came to the proxy port for another route."""
        port = self.proxy_port()
        if port is not None and scope["type"] == "http":
            server = scope.get("server")
            if server and server[1] == port and not scope["path"].startswith(V1_PATHS):
                response = error_response(
                    404, "not_found", "this port serves only /v1/* (the side API has the rest)"
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signals to its host and wakes once a second, not ten times."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.wake = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install nothing: the dashboard or ``llamadash serve`` owns SIGINT/SIGTERM."""
        yield

    async def main_loop(self) -> None:
        """Uvicorn's housekeeping loop, once a second or when :meth:`exit` wakes it.

        uvicorn polls ``should_exit`` every 100 ms; in an idle dashboard those ten wakeups
        a second were a quarter of a percent of a core (bench/bench_ui_cpu.py).
        """
        tick = 0
        while not await self.on_tick(tick):
            tick = (tick + 10) % 864_000  # a multiple of 10: on_tick refreshes the Date header
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=1.0)

    def exit(self) -> None:
        """Ask the server to stop now."""
        self.should_exit = True
        self.wake.set()
