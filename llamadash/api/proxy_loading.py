"""The loading stream: a streamed request that waits for its model hears how the load goes.

With ``loading_state`` on (or ``X-Loading-State: 1``), a ``"stream": true`` request to
``/v1/chat/completions`` or ``/v1/completions`` whose model is not ready gets its answer's
event stream at once: one chunk per stage of the load as the engine reports it (its
SwitchEvents for that profile: stopping, starting, each loading stage with percent and ETA,
ready), then the model's own chunks on the same response. The chunks are the endpoint's own
kind (``chat.completion.chunk``, ``text_completion``) with no content: the stage is in
``reasoning_content`` — what llama-server itself streams a thinking model's reasoning in, so
chat UIs show it as the model thinking and every other client skips a field it does not know —
and, for programs, in ``loading``. Nothing is sent until the first stage: a request refused
before its load (404, 429, 409…) keeps its HTTP status; one whose load fails after the stream
began gets the proxy's SSE error event.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable

import msgspec
from starlette.types import Send

from llamadash.api.proxy_input import refusal_error
from llamadash.api.shapes import (
    LoadingChatChoice,
    LoadingChunk,
    LoadingDelta,
    LoadingTextChoice,
    LoadStage,
)
from llamadash.core.demand import DemandRouter
from llamadash.core.demand_types import DemandRefused, Lease
from llamadash.core.events import State, SwitchEvent

# The endpoints whose streams can carry it, and the object their chunks are.
LOADING_OBJECTS = {
    "/v1/chat/completions": "chat.completion.chunk",
    "/v1/completions": "text_completion",
}
LOADING_HEADER = "x-loading-state"
EVENT_STREAM_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
]


class LoadingStream:
    """The loading chunks of one request (nothing is sent until the load reports a stage)."""

    def __init__(self, send: Send, path: str, profile_id: str) -> None:
        self.send = send
        self.object = LOADING_OBJECTS[path]
        self.profile_id = profile_id
        self.started = False
        """The response has begun (200, an event stream): what follows goes into it."""
        self._sent: set[str] = set()
        prefix = "chatcmpl" if self.object == "chat.completion.chunk" else "cmpl"
        self._id = f"{prefix}-loading-{secrets.token_hex(6)}"

    async def wait(self, router: DemandRouter) -> Lease:
        """``router.acquire(profile)``, sending each stage of the load while it waits.

        Raises:
            DemandRefused: as acquire does (the caller answers it: see :meth:`fail`).
        """
        pending: list[SwitchEvent] = []
        woke = asyncio.Event()

        def heard(event: SwitchEvent) -> None:
            if event.profile_id == self.profile_id:
                pending.append(event)
                woke.set()

        unsubscribe: Callable[[], None] = router.pool.subscribe(heard)
        acquire = asyncio.ensure_future(router.acquire(self.profile_id))
        handed = False
        try:
            while not acquire.done():
                woke.clear()
                await self._tell(pending)
                wake = asyncio.ensure_future(woke.wait())
                try:
                    await asyncio.wait((acquire, wake), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    wake.cancel()
            await self._tell(pending)  # the ready line comes before the answer
            lease = acquire.result()
            handed = True
            return lease
        finally:
            unsubscribe()
            await _settle(acquire, handed)

    async def fail(self, refused: DemandRefused) -> None:
        """End the begun stream with the proxy's error event."""
        await self.frame(msgspec.json.encode({"error": refusal_error(refused)}))
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})

    async def frame(self, data: bytes) -> None:
        """One ``data:`` event (the response begun first)."""
        await self._start()
        message = b"data: " + data + b"\n\n"
        await self.send({"type": "http.response.body", "body": message, "more_body": True})

    async def _tell(self, events: list[SwitchEvent]) -> None:
        while events:
            told = _stage_of(events.pop(0))
            if told is None or told[0] in self._sent:
                continue
            if told[0] == "ready" and not self.started:
                continue  # nothing was said about a load: no stream just to say it is over
            self._sent.add(told[0])
            await self.frame(msgspec.json.encode(self._chunk(*told)))

    def _chunk(self, key: str, text: str, pct: float | None, eta: float | None) -> LoadingChunk:
        said = f"{self.profile_id}: {text}\n" + ("\n" if key == "ready" else "")
        choice: LoadingChatChoice | LoadingTextChoice
        if self.object == "chat.completion.chunk":
            choice = LoadingChatChoice(0, LoadingDelta("assistant", "", said))
        else:
            choice = LoadingTextChoice(0, "", said)
        return LoadingChunk(
            id=self._id,
            object=self.object,
            created=int(time.time()),
            model=self.profile_id,
            choices=(choice,),  # type: ignore[arg-type]  # one of the two tuple kinds
            loading=LoadStage(self.profile_id, key, pct, eta),
        )

    async def _start(self) -> None:
        if not self.started:
            self.started = True
            await self.send(
                {"type": "http.response.start", "status": 200, "headers": EVENT_STREAM_HEADERS}
            )


def _stage_of(event: SwitchEvent) -> tuple[str, str, float | None, float | None] | None:
    """(stage, what a person reads, percent, ETA) of an event about the load, else None."""
    if event.state == State.STOPPING:
        return "stopping", "stopping the running server", None, None
    if event.state == State.STARTING:
        return "starting", event.message or "starting", None, None
    if event.state == State.LOADING and event.progress is not None:
        done = event.progress
        return done.stage, done.describe(), round(done.pct, 1), done.eta
    if event.state == State.READY:
        return "ready", event.message or "ready", 100.0, 0.0
    return None


async def _settle(acquire: asyncio.Future[Lease], handed: bool) -> None:
    """Stop a wait that is not over; give back a lease nobody will use."""
    if not acquire.done():
        acquire.cancel()
        with contextlib.suppress(asyncio.CancelledError, DemandRefused):
            await acquire
    elif not handed and not acquire.cancelled() and acquire.exception() is None:
        acquire.result().release()  # granted as the client left
