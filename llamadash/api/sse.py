"""``GET /events``: Server-Sent Events of every state change and progress update.

The first event is ``status`` (a Status), or ``error`` when the engine cannot be observed;
then one ``state`` event (a SwitchEvent) per change of any instance of the pool (each names
its ``instance`` and whether it is the ``foreground`` one), and ``: keepalive`` comments.

Each client gets its own bounded buffer fed by a Pool (or Instance) subscription. When a slow
client lets the buffer fill, the oldest *progress* update is dropped (a newer one supersedes
it anyway); state changes are only dropped if the buffer holds nothing else. The subscription
is removed as soon as the client disconnects (watched on the ASGI receive channel, not on the
next write).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from llamadash.api.errors import ApiError
from llamadash.api.shapes import PullProgress
from llamadash.api.state import ApiContext, context
from llamadash.core.events import State, SwitchEvent

BUFFER_EVENTS = 256


Item = SwitchEvent | PullProgress


def is_progress(event: Item) -> bool:
    """A loading or download update that a later one makes obsolete."""
    if isinstance(event, PullProgress):
        return event.state == "pulling"
    return event.state == State.LOADING and event.progress is not None


class EventBuffer:
    """A bounded FIFO of SwitchEvents for one client (an asyncio.Queue with a drop policy).

    ``put`` never blocks and never grows past ``maxsize``: when full it drops the oldest
    progress update, or, if there is none, the oldest event. ``dropped`` counts the losses.
    """

    def __init__(self, maxsize: int = BUFFER_EVENTS) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.dropped = 0
        self._items: deque[Item] = deque()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, event: Item) -> None:
        """Append ``event`` (called on the loop by the switcher)."""
        if len(self._items) >= self.maxsize:
            self._drop_one()
        self._items.append(event)
        self._ready.set()

    def _drop_one(self) -> None:
        self.dropped += 1
        for index, queued in enumerate(self._items):
            if is_progress(queued):
                del self._items[index]
                return
        self._items.popleft()

    async def get(self) -> Item:
        """The oldest event, waiting for one if the buffer is empty."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()


def format_event(name: str, data: dict[str, Any]) -> bytes:
    """One SSE message: ``event: <name>`` and a single-line JSON ``data:``."""
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
    return f"event: {name}\ndata: {payload}\n\n".encode()


KEEPALIVE = b": keepalive\n\n"


class EventStream(Response):
    """A ``text/event-stream`` response that lives until the client or the server goes."""

    media_type = "text/event-stream"

    def __init__(self, ctx: ApiContext, buffer_size: int = BUFFER_EVENTS) -> None:
        super().__init__(
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
            media_type=self.media_type,
        )
        # Response.__init__ sets Content-Length: 0 for the empty body; a stream has none.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.ctx = ctx
        self.buffer = EventBuffer(buffer_size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Subscribe, send the current status, then every event until a disconnect."""
        ctx = self.ctx
        if scope.get("method") == "HEAD":
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        source = ctx.pool if ctx.pool is not None else ctx.switcher
        unsubscribe = source.subscribe(self.buffer.put)
        unsubscribe_pulls = ctx.pulls.subscribe(self.buffer.put)
        ctx.event_clients += 1
        tasks: list[asyncio.Future[None]] = []
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            pump = asyncio.ensure_future(self._pump(send))
            gone = asyncio.ensure_future(client_gone(receive))
            closing = asyncio.ensure_future(wait_set(ctx.closing))
            tasks = [pump, gone, closing]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            failure = pump.exception() if pump.done() and not pump.cancelled() else None
            if failure is not None and not isinstance(failure, OSError):
                raise failure  # a bug, not a client that went away
            if closing.done() and not gone.done():
                pump.cancel()
                await asyncio.gather(pump, return_exceptions=True)
                with contextlib.suppress(OSError):  # the client may be gone as well
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            unsubscribe()
            unsubscribe_pulls()
            ctx.event_clients -= 1
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _pump(self, send: Send) -> None:
        try:
            status = await self.ctx.status()
        except ApiError as exc:  # the stream has started: report it in-band, keep streaming
            await send_body(send, format_event("error", exc.body()))
        else:
            await send_body(send, format_event("status", status.to_dict()))
        while True:
            try:
                event = await asyncio.wait_for(self.buffer.get(), timeout=self.ctx.keepalive)
            except TimeoutError:
                await send_body(send, KEEPALIVE)
                continue
            if isinstance(event, PullProgress):
                await send_body(send, format_event("pull", msgspec.to_builtins(event)))
            else:
                await send_body(send, format_event("state", event.to_dict()))


async def send_body(send: Send, chunk: bytes) -> None:
    """One more piece of a streamed answer."""
    await send({"type": "http.response.body", "body": chunk, "more_body": True})


async def wait_set(event: asyncio.Event) -> None:
    """Return once ``event`` is set (a task to race against others)."""
    await event.wait()


async def client_gone(receive: Receive) -> None:
    """Return when the client has gone (or the request is complete)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def events(request: Request) -> Response:
    """``GET /events``: the event stream."""
    return EventStream(context(request))
