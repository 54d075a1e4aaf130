"""``GET /dashboard``: one event stream with everything an attached dashboard draws.

``?follow=<instance id>`` picks the instance the server, container and log parts are about
(default: the foreground one); ``?boot=<id>&since=<seq>`` resumes the log where a client that
lost its connection left off. Messages (llamadash/remote/shapes.py): ``hello`` first, then
``logs`` (at most 4 a second, only when there are new lines), ``sample`` once a second and a
``state`` event per change of any instance, as ``GET /events`` sends them.

The owner's collectors sample only while a dashboard is attached: they are made at the first
stream and shared by every stream (GPU and system samples are taken once per second whatever
the number of clients).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from llamadash import __version__
from llamadash.api.errors import ApiError
from llamadash.api.sse import EventBuffer, client_gone, format_event, send_body, wait_set
from llamadash.api.state import ApiContext, context
from llamadash.core.events import HostInfo, InstanceInfo, Status, SwitchEvent
from llamadash.core.instance import Instance
from llamadash.core.pool_view import describe_all, memory_budget
from llamadash.remote.shapes import (
    HELLO,
    LOGS,
    SAMPLE,
    STATE,
    DashboardHello,
    DashboardLogs,
    DashboardSample,
)

if TYPE_CHECKING:
    from llamadash.collectors.bundle import Collectors

SAMPLE_SECONDS = 1.0
LOG_SECONDS = 0.25
# The status and the instances list are looked at again on every event, and at least this
# often (a look observes each instance's runtime: on compose, docker calls; the owner's own
# watch publishes what changes outside llamadash as events).
DESCRIBE_SECONDS = 5.0
Described = tuple[tuple[InstanceInfo, ...], tuple[HostInfo, ...]]
"""The instances (every host's) and how each other host answered."""
# A reset (or first) log batch sends at most this much scrollback.
HISTORY_LINES = 2000


class DashboardFeed:
    """The owner's side of every attached dashboard: collectors made on first use, shared."""

    def __init__(self, make: Callable[[], Collectors], stop_command: str = "llamadash stop"):
        self._make = make
        self._collectors: Collectors | None = None
        self.boot = uuid.uuid4().hex[:12]
        self.stop_command = stop_command
        self.clients = 0
        self._shared: dict[str, tuple[float, Any]] = {}
        self._lock = asyncio.Lock()

    @property
    def collectors(self) -> Collectors:
        """The collectors (made now if no dashboard attached before)."""
        if self._collectors is None:
            self._collectors = self._make()
        return self._collectors

    async def shared(self, name: str, take: Callable[[], Any]) -> Any:
        """``take()`` in a thread, or its result of less than a sample ago (any client's)."""
        async with self._lock:
            kept = self._shared.get(name)
            if kept is not None and time.monotonic() - kept[0] < SAMPLE_SECONDS * 0.8:
                return kept[1]
            value = await asyncio.to_thread(take)
            self._shared[name] = (time.monotonic(), value)
            return value

    async def aclose(self) -> None:
        """Close the collectors (the API stops)."""
        if self._collectors is not None:
            collectors, self._collectors = self._collectors, None
            await asyncio.to_thread(collectors.close)
            await collectors.aclose()


class DashboardStream(Response):
    """The stream of one attached dashboard."""

    media_type = "text/event-stream"

    def __init__(self, ctx: ApiContext, feed: DashboardFeed, follow: Instance, since: int | None):
        super().__init__(
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
            media_type=self.media_type,
        )
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.ctx, self.feed, self.follow, self.since = ctx, feed, follow, since
        self.events = EventBuffer()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Subscribe, send hello, then logs, samples and events until a disconnect."""
        ctx = self.ctx
        source = ctx.pool if ctx.pool is not None else ctx.switcher
        unsubscribe = source.subscribe(self.events.put)
        self.feed.clients += 1
        tasks: list[asyncio.Future[None]] = []
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            pump = asyncio.ensure_future(self._pump(send))
            tasks = [
                pump,
                asyncio.ensure_future(client_gone(receive)),
                asyncio.ensure_future(wait_set(ctx.closing)),
            ]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            failure = pump.exception() if pump.done() and not pump.cancelled() else None
            if failure is not None and not isinstance(failure, OSError):
                raise failure
        finally:
            unsubscribe()
            self.feed.clients -= 1
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(OSError, RuntimeError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _pump(self, send: Send) -> None:
        follow = self.follow
        foreground = follow is self.ctx.switcher
        hello = DashboardHello(
            boot=self.feed.boot,
            version=__version__,
            pid=os.getpid(),
            runtime=follow.runtime.name,
            endpoint=self.ctx.switcher.endpoint,
            max_instances=self.ctx.switcher.settings.max_instances,
            log_path=str(follow.logs.path or ""),
            follow=None if foreground else follow.profile_id,
            stop_command=self.feed.stop_command,
        )
        await _send(send, HELLO, hello)
        seq, reset = self._cursor()
        described: tuple[float, Status, Described] | None = None
        next_sample = next_logs = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= next_logs:
                seq, lines = follow.logs.lines_since(seq)
                if lines or reset:
                    await _send(send, LOGS, DashboardLogs(seq, lines[-HISTORY_LINES:], reset))
                    reset = False
                next_logs = now + LOG_SECONDS
            if now >= next_sample:
                if described is None or now - described[0] >= DESCRIBE_SECONDS:
                    described = (now, await self.ctx.status(), await self._describe())
                await _send(send, SAMPLE, await self._sample(*described[1:]))
                next_sample = now + SAMPLE_SECONDS
            wait = max(0.0, min(next_sample, next_logs) - time.monotonic())
            with contextlib.suppress(TimeoutError):
                event = await asyncio.wait_for(self.events.get(), timeout=wait)
                if isinstance(event, SwitchEvent):
                    await send_body(send, format_event(STATE, event.to_dict()))
                    described = None  # looked at again for the next sample

    def _cursor(self) -> tuple[int, bool]:
        """Where the log part starts: the client's cursor when it is this owner's, else afresh."""
        current = self.follow.logs.seq
        if self.since is not None and 0 <= self.since <= current:
            return self.since, False
        return max(0, current - HISTORY_LINES), True

    async def _describe(self) -> Described:
        pool = self.ctx.pool
        if pool is None:
            return (), ()
        described = await describe_all(pool, self.ctx.idle)
        self.feed.collectors.track(pool.instances())
        return described

    async def _sample(self, status: Status, described: Described) -> DashboardSample:
        feed, follow, ctx = self.feed, self.follow, self.ctx
        collectors = feed.collectors
        system, gpu = await asyncio.gather(
            feed.shared("system", collectors.system.collect),
            feed.shared("gpu", collectors.gpu.collect),
        )
        server = await collectors.server_of(follow).collect() if follow.running else None
        container = None
        if collectors.container is not None:
            collectors.follow(follow)
            current = collectors.current_container()
            if current is not None:
                container = await feed.shared(
                    f"container-{follow.settings.port}", current[1].collect
                )
        followed = None if follow is ctx.switcher else await follow.status()
        others = (
            []
            if ctx.pool is None
            else [i for i in ctx.pool.instances() if i is not follow and i.running]
        )
        taken = await asyncio.gather(*(collectors.server_of(i).collect() for i in others))
        rates = {
            str(i.settings.port): s.gen_tps or s.live_gen_tps
            for i, s in zip(others, taken, strict=True)
        }
        infos, hosts = described
        budget = None
        if ctx.pool is not None:
            budget = await asyncio.to_thread(memory_budget, ctx.pool, infos)
        return DashboardSample(
            status, system, gpu, server, container, followed, infos, budget, rates, hosts
        )


async def _send(send: Send, name: str, value: msgspec.Struct) -> None:
    await send_body(send, format_event(name, msgspec.to_builtins(value)))


async def dashboard(request: Request) -> Response:
    """``GET /dashboard?follow=&boot=&since=``: the attached dashboard's stream."""
    ctx = context(request)
    feed = ctx.dashboards
    if feed is None:
        raise ApiError(503, "no_dashboards", "this llamadash serves no attached dashboards")
    query = request.query_params
    unknown = set(query) - {"follow", "boot", "since"}
    if unknown:
        raise ApiError(400, "bad_request", f"unknown query parameter {sorted(unknown)[0]!r}")
    follow = ctx.switcher
    wanted = query.get("follow")
    if wanted and ctx.pool is not None:
        found = ctx.pool.find(wanted)
        if found is None:
            raise ApiError(404, "unknown_instance", f"no instance runs {wanted!r}")
        follow = found
    since = None
    if query.get("boot") == feed.boot and (text := query.get("since", "")).isdigit():
        since = int(text)
    return DashboardStream(ctx, feed, follow, since)
