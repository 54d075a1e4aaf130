"""Serve the API with uvicorn on the caller's event loop (dashboard or ``llamadash serve``).

:class:`ApiServer` binds the socket itself, so a busy port is an ordinary exception (uvicorn
would ``sys.exit`` from inside a task), leaves logging and signals to the host process, and
ends open event streams when it stops.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable

import uvicorn

from llamadash.api.app import api_context, create_app
from llamadash.api.dashboard import DashboardFeed
from llamadash.api.listen import (
    ApiBindError,
    EmbeddedServer,
    FastPaths,
    ProxyPortOnly,
    bind_socket,
)

__all__ = ["ApiBindError", "ApiServer", "check_bind", "serve_headless"]
from llamadash.api.state import KEEPALIVE_SECONDS, ApiContext
from llamadash.core.demand import DemandRouter
from llamadash.core.idle import IdleWatch
from llamadash.core.inifile import ConfigError
from llamadash.core.instance import Instance
from llamadash.core.net import is_loopback
from llamadash.core.pool import Pool
from llamadash.core.tokens import NamedToken, read_secrets

SHUTDOWN_GRACE = 3


def check_bind(host: str, token: str) -> None:
    """Refuse a non-loopback bind without a token.

    Raises:
        ApiBindError: ``host`` is not loopback and ``token`` is empty.
    """
    if is_loopback(host) or token:
        return
    shown = host or "all interfaces"
    raise ApiBindError(
        f"refusing to serve the API on {shown} without a token: anyone who can reach it could"
        " switch or stop models. Set api_token in models.conf [llamadash] or"
        " LLAMADASH_API_TOKEN (or pass --token), or bind 127.0.0.1."
    )


def named_tokens(switcher: Instance, token: str) -> tuple[NamedToken, ...]:
    """The models.conf ``[token NAME]`` tokens with their secrets read (from the environment).

    Raises:
        ConfigError: a secret cannot be read, or named tokens exist without ``token``: a
            restricted token needs a full one beside it (the CLI and the dashboard use it).
    """
    rules = switcher.profiles.tokens
    if not rules:
        return ()
    if not token:
        first = rules[0]
        raise ConfigError(
            first.path,
            first.line,
            f"[token {first.name}] needs api_token set too (in [llamadash], LLAMADASH_API_TOKEN"
            " or --token): the full-access token beside the limited ones",
        )
    return read_secrets(rules, os.environ, token)


class ApiServer:
    """The side API as an asyncio task on the current loop.

    Args:
        switcher: the engine's foreground instance (shared, not copied).
        pool: the engine's pool (see :func:`create_app`).
        idle: the pool's idle watch.
        router: the pool's on-demand router (``engine.router``; made here if None).
        host: bind address (default: the api_host setting, 127.0.0.1).
        port: port (default: the api_port setting, 8081); 0 picks a free one.
        proxy_port: a second port answering only /v1/* and /healthz (default: the proxy_port
            setting; 0 there means none). Same host, token and browser rules.
        token: bearer token (default: the api_token setting).
        keepalive: seconds between SSE keepalive comments.
        dashboards: what ``GET /dashboard`` streams to attached dashboards (None: 503).

    Raises:
        ApiBindError: ``host`` is not loopback and there is no token.
        ConfigError: a ``[token NAME]`` secret cannot be read, or there are named tokens
            but no api_token (file:line of the section).
    """

    def __init__(
        self,
        switcher: Instance,
        *,
        pool: Pool | None = None,
        idle: IdleWatch | None = None,
        router: DemandRouter | None = None,
        host: str | None = None,
        port: int | None = None,
        proxy_port: int | None = None,
        token: str | None = None,
        keepalive: float = KEEPALIVE_SECONDS,
        dashboards: DashboardFeed | None = None,
    ) -> None:
        settings = switcher.settings
        self.host = settings.api_host if host is None else host
        self.port = settings.api_port if port is None else port
        self.token = settings.api_token if token is None else token
        check_bind(self.host, self.token)
        self.named = named_tokens(switcher, self.token)
        """The ``[token NAME]`` tokens of models.conf, read when the API starts."""
        wanted = settings.proxy_port if proxy_port is None else proxy_port
        self.proxy_port: int | None = wanted or None
        """The port serving only /v1/* too (None: none)."""
        self.app = create_app(
            switcher,
            pool=pool,
            idle=idle,
            router=router,
            token=self.token,
            named=self.named,
            host=self.host,
            keepalive=keepalive,
            dashboards=dashboards,
        )
        self._server: EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def context(self) -> ApiContext:
        """The app's shared state (running jobs, event clients)."""
        return api_context(self.app)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8081``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def proxy_url(self) -> str | None:
        """The /v1-only port's base URL (None: there is none)."""
        if self.proxy_port is None:
            return None
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.proxy_port}"

    @property
    def running(self) -> bool:
        """Listening and not stopped."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Bind, start serving, and return once it listens.

        Raises:
            ApiBindError: the address cannot be bound (port in use, unknown host).
            RuntimeError: already started.
        """
        if self._task is not None:
            raise RuntimeError("the API server is already started")
        sock = bind_socket(self.host, self.port, "api_port")
        self.port = int(sock.getsockname()[1])
        sockets = [sock]
        if self.proxy_port is not None:
            proxy = bind_socket(self.host, self.proxy_port, "proxy_port")
            self.proxy_port = int(proxy.getsockname()[1])
            sockets.append(proxy)
        config = uvicorn.Config(
            ProxyPortOnly(FastPaths(self.app), lambda: self.proxy_port),
            log_config=None,
            access_log=False,
            lifespan="off",
            proxy_headers=False,
            server_header=False,
            ws="none",
            timeout_graceful_shutdown=SHUTDOWN_GRACE,
        )
        self.context.closing.clear()
        server = EmbeddedServer(config)
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=sockets), name="llamadash-api")
        while not server.started:
            if self._task.done():
                task, self._task = self._task, None
                for opened in sockets:
                    opened.close()
                task.result()  # raises what stopped it
                raise RuntimeError("the API server stopped while starting")
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        """End event streams and waiting requests, stop listening, wait for the task."""
        task, server = self._task, self._server
        if task is None or server is None:
            return
        self.context.closing.set()
        if self.context.router is not None:  # requests waiting for a model: 503, not a hang
            await self.context.router.aclose()
        server.exit()
        try:
            await task
        finally:
            self._task = None
            self._server = None
            if self.context.dashboards is not None:
                await self.context.dashboards.aclose()


async def serve_headless(
    switcher: Instance,
    *,
    pool: Pool | None = None,
    idle: IdleWatch | None = None,
    router: DemandRouter | None = None,
    host: str | None = None,
    port: int | None = None,
    token: str | None = None,
    switch_to: str | None = None,
    stop: asyncio.Event | None = None,
    on_listening: Callable[[str], None] | None = None,
    dashboards: DashboardFeed | None = None,
) -> None:
    """``llamadash serve``: adopt what runs, serve the API until SIGINT/SIGTERM (or ``stop``).

    The caller owns the engine (takes the owner lock, closes it afterwards).

    Args:
        switcher: the engine's foreground instance.
        pool: the engine's pool: it adopts every recorded instance, and the API acts on them.
        idle: the pool's idle watch (the caller starts it).
        router: the pool's on-demand router for /v1/* (``engine.router``).
        host: bind address (default from settings).
        port: port (default from settings).
        token: bearer token (default from settings).
        switch_to: a profile (id or fuzzy name) to switch to once listening; runs in the
            background, its progress is visible on /status and /events.
        stop: set it to stop serving (default: only the signals do).
        on_listening: called with the base URL once the server listens.
        dashboards: what ``GET /dashboard`` streams to attached dashboards (None: 503).

    Raises:
        ApiBindError: non-loopback host without a token, or the port cannot be bound.
        UnknownProfileError: ``switch_to`` matches no profile (checked before anything runs).
    """
    server = ApiServer(
        switcher,
        pool=pool,
        idle=idle,
        router=router,
        host=host,
        port=port,
        token=token,
        dashboards=dashboards,
    )
    target = switcher.profiles.resolve(switch_to).id if switch_to else None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            pass
    try:
        if pool is not None:
            await pool.adopt()  # the foreground server and those recorded beside it
        else:
            await switcher.adopt()
        await server.start()
        if on_listening is not None:
            on_listening(server.url)
        if target is not None:
            server.context.submit(target)
        await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await server.stop()
