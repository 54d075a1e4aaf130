"""What the API keeps besides the engine: running switch jobs, SSE clients, a closing flag.

It holds no copy of the engine's state: every answer is computed from the Instance.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse

from llamadash.api.errors import ApiError
from llamadash.core.events import Status, SwitchOutcome
from llamadash.core.instance import Instance
from llamadash.core.runtime.base import RuntimeFailure

log = logging.getLogger(__name__)
KEEPALIVE_SECONDS = 15.0
# A rendered GET /status body is reused this long while the switcher's revision is unchanged
# (only the uptime ages meanwhile); fifty pollers then cost a few renders a second, not 500.
STATUS_BODY_SECONDS = 0.05


@dataclass
class ApiContext:
    """Shared by every handler of one app (``app.state.ctx``)."""

    switcher: Instance
    token: str = ""
    keepalive: float = KEEPALIVE_SECONDS
    """Seconds between SSE keepalive comments."""
    started: float = field(default_factory=time.monotonic)
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the server stops: event streams end, waiting switch requests answer 503."""
    jobs: set[asyncio.Task[SwitchOutcome]] = field(default_factory=set)
    """Switch/stop requests in flight; referenced here so they finish even if nobody waits."""
    event_clients: int = 0
    """Open ``GET /events`` streams."""
    _status_call: asyncio.Task[Status] | None = None
    _status_body: tuple[int, float, bytes] | None = None

    def submit(self, target: str | None, *, restart: bool = False) -> asyncio.Task[SwitchOutcome]:
        """Hand a switch (``target`` = profile id) or stop (None) to the switcher, as a task.

        The task keeps running when the HTTP client goes away or stops waiting.
        """
        task = asyncio.create_task(
            self.switcher.request(target, restart=restart), name=f"llamadash-api-{target}"
        )
        self.jobs.add(task)
        task.add_done_callback(self._job_done)
        return task

    def _job_done(self, task: asyncio.Task[SwitchOutcome]) -> None:
        self.jobs.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("switch request ended with %s: %s", type(exc).__name__, exc)

    async def status(self) -> Status:
        """``Instance.status()``, with concurrent callers sharing one call in flight.

        Fifty clients polling at once cost one runtime observation, not fifty threads.

        Raises:
            ApiError: 503 when the runtime cannot be observed (Docker engine unreachable).
        """
        call = self._status_call
        if call is None or call.done():
            call = asyncio.ensure_future(self.switcher.status())
            self._status_call = call
        try:
            return await asyncio.shield(call)
        except RuntimeFailure as exc:
            raise ApiError(503, "engine_unavailable", str(exc)) from None

    async def status_body(self) -> bytes:
        """``GET /status`` as JSON bytes, rendered again after any change (or 50 ms).

        Raises:
            ApiError: 503 when the runtime cannot be observed.
        """
        revision, now = self.switcher.revision, time.monotonic()
        cached = self._status_body
        if cached is not None and cached[0] == revision and now - cached[1] < STATUS_BODY_SECONDS:
            return cached[2]
        # The revision read before looking: a change while we look renders again next time.
        body = render_json((await self.status()).to_dict())
        self._status_body = (revision, now, body)
        return body

    @property
    def uptime(self) -> float:
        """Seconds since the app was created."""
        return time.monotonic() - self.started


def render_json(content: object) -> bytes:
    """JSON bytes exactly as Starlette's JSONResponse renders them."""
    return bytes(JSONResponse(content).body)


def context(request: Request) -> ApiContext:
    """The ApiContext of the app serving ``request``."""
    ctx = request.app.state.ctx
    assert isinstance(ctx, ApiContext)
    return ctx
