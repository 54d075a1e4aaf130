"""Serve the API with uvicorn on the caller's event loop (dashboard or ``llamadash serve``).

:class:`ApiServer` binds the socket itself, so a busy port is an ordinary exception (uvicorn
would ``sys.exit`` from inside a task), leaves logging and signals to the host process, and
ends open event streams when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Callable, Iterator

import uvicorn

from llamadash.api.app import api_context, create_app
from llamadash.api.state import KEEPALIVE_SECONDS, ApiContext
from llamadash.core.demand import DemandRouter
from llamadash.core.idle import IdleWatch
from llamadash.core.instance import Instance
from llamadash.core.net import is_loopback
from llamadash.core.pool import Pool

SHUTDOWN_GRACE = 3


class ApiBindError(RuntimeError):
    """The API cannot (or must not) listen where it was asked to."""


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


class _EmbeddedServer(uvicorn.Server):
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


class ApiServer:
    """The side API as an asyncio task on the current loop.

    Args:
        switcher: the engine's foreground instance (shared, not copied).
        pool: the engine's pool (see :func:`create_app`).
        idle: the pool's idle watch.
        router: the pool's on-demand router (``engine.router``; made here if None).
        host: bind address (default: the api_host setting, 127.0.0.1).
        port: port (default: the api_port setting, 8081); 0 picks a free one.
        token: bearer token (default: the api_token setting).
        keepalive: seconds between SSE keepalive comments.

    Raises:
        ApiBindError: ``host`` is not loopback and there is no token.
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
        token: str | None = None,
        keepalive: float = KEEPALIVE_SECONDS,
    ) -> None:
        settings = switcher.settings
        self.host = settings.api_host if host is None else host
        self.port = settings.api_port if port is None else port
        self.token = settings.api_token if token is None else token
        check_bind(self.host, self.token)
        self.app = create_app(
            switcher,
            pool=pool,
            idle=idle,
            router=router,
            token=self.token,
            host=self.host,
            keepalive=keepalive,
        )
        self._server: _EmbeddedServer | None = None
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
        sock = self._bind()
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            lifespan="off",
            proxy_headers=False,
            server_header=False,
            ws="none",
            timeout_graceful_shutdown=SHUTDOWN_GRACE,
        )
        self.context.closing.clear()
        server = _EmbeddedServer(config)
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name="llamadash-api")
        while not server.started:
            if self._task.done():
                task, self._task = self._task, None
                sock.close()
                task.result()  # raises what stopped it
                raise RuntimeError("the API server stopped while starting")
            await asyncio.sleep(0.005)

    def _bind(self) -> socket.socket:
        try:
            family, kind, proto, _, address = socket.getaddrinfo(
                self.host, self.port, type=socket.SOCK_STREAM
            )[0]
        except socket.gaierror as exc:
            raise ApiBindError(f"cannot resolve API host {self.host!r}: {exc}") from None
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
        except OSError as exc:
            sock.close()
            raise ApiBindError(
                f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
                " (another program may use it; set api_port or pass --port)"
            ) from None
        return sock

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

    Raises:
        ApiBindError: non-loopback host without a token, or the port cannot be bound.
        UnknownProfileError: ``switch_to`` matches no profile (checked before anything runs).
    """
    server = ApiServer(
        switcher, pool=pool, idle=idle, router=router, host=host, port=port, token=token
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
