"""The web listener: textual-serve's Server, each websocket a DashboardSession behind WebGate.

textual-serve's own page and script are used as they are; what changes: the page's websocket
URL follows the Host the browser used (so ``localhost`` and ``127.0.0.1`` both work and the
Origin check holds), sessions exec an argv list (session.py), every request passes the gate,
and the listener is bound before the URL is printed (a busy port is one clear line).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web
from textual_serve.server import Server, to_int

from llamadash.web.gate import WebGate
from llamadash.web.session import DashboardSession


class WebBindError(Exception):
    """The web listener's address could not be bound (busy port, unknown host)."""


class WebServer(Server):
    """Serves the dashboard to browsers: one dashboard process per open page.

    Args:
        argv: the command each session runs (``session.dashboard_command``).
        host: bind address.
        port: bind port (0: any free one; ``url`` says which once bound).
        token: the token browsers must bring (empty: none; loopback only).
    """

    def __init__(self, argv: list[str], *, host: str, port: int, token: str) -> None:
        super().__init__(" ".join(argv), host=host, port=port, title="llamadash")
        self.argv = argv
        self.token = token
        self.gate = WebGate(bind_host=host, port=port, token=token)  # again once bound
        self._runner: web.AppRunner | None = None
        self._sessions: set[DashboardSession] = set()

    def url(self, *, with_token: bool = True) -> str:
        """The URL to open (with ``?token=`` when one is demanded and ``with_token``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        base = f"http://{host}:{self.port}/"
        return f"{base}?token={quote(self.token, safe='')}" if self.token and with_token else base

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints its logo here; the verb prints the URL instead."""

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        """The page, its websocket URL on the Host the browser used (the gate checked it)."""
        return {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"ws://{request.host}{request.app.router['websocket'].url_for()}",
            "config": {"static": {"url": "/static/"}},
            "application": {"name": self.title},
        }

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """Run one dashboard for this websocket; it quits when the page goes."""
        websocket = web.WebSocketResponse(heartbeat=15)
        width = _within(to_int(request.query.get("width", "80"), 80), 20, 1000)
        height = _within(to_int(request.query.get("height", "24"), 24), 5, 500)
        await websocket.prepare(request)
        session = DashboardSession(
            self.argv,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self.download_manager,
        )
        self._sessions.add(session)
        try:
            await session.start(width, height)
            await self._process_messages(websocket, session)
        except ConnectionResetError:
            pass  # the page went away mid-message: its dashboard quits below
        finally:
            await asyncio.shield(session.end())
            self._sessions.discard(session)
            await websocket.close()
        return websocket

    async def start(self) -> None:
        """Bind the listener and start serving (``port`` 0 becomes the port bound).

        The socket is bound first, so the gate knows the port its cookie is named after.
        """
        try:
            family, kind, proto, _name, address = socket.getaddrinfo(
                self.host, self.port, type=socket.SOCK_STREAM
            )[0]
            listener = socket.socket(family, kind, proto)
        except OSError as exc:
            raise WebBindError(f"cannot listen on {self.host}:{self.port}: {exc}") from exc
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(address)
        except OSError as exc:
            listener.close()
            reason = exc.strerror or str(exc)
            raise WebBindError(f"cannot listen on {self.host}:{self.port}: {reason}") from exc
        self.port = int(listener.getsockname()[1])
        self.gate = WebGate(bind_host=self.host, port=self.port, token=self.token)
        app = await self._make_app()
        self.gate.install(app)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, listener).start()

    async def run_until_stopped(self, on_listening: Callable[[str], None]) -> None:
        """Start, announce the URL, serve until SIGINT/SIGTERM, then end every session."""
        await self.start()
        on_listening(self.url())
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, stopped.set)
        try:
            await stopped.wait()
        finally:
            for number in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(number)
            # Each dashboard is in its own session (a Ctrl-C here never reached it): quit them
            # and wait, so none outlives the listener holding the owner lock.
            await asyncio.gather(*(session.end() for session in list(self._sessions)))
            if self._runner is not None:
                await self._runner.cleanup()


def _within(value: int, least: int, most: int) -> int:
    """``value`` clamped: a page's size never makes the dashboard allocate a huge screen."""
    return min(max(value, least), most)
