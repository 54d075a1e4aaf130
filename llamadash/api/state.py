"""What the API keeps besides the engine: running switch jobs, SSE clients, a closing flag.

It holds no copy of the engine's state: every answer is computed from the pool (or, for an app
built from one Instance alone, from it).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse

from llamadash.api.errors import ApiError
from llamadash.api.pull_jobs import Pulls
from llamadash.api.upstream import UpstreamPool
from llamadash.core.demand import DemandRefused, DemandRouter
from llamadash.core.demand_stats import DemandStats
from llamadash.core.events import Status, SwitchOutcome
from llamadash.core.idle import IdleWatch
from llamadash.core.instance import Instance
from llamadash.core.pool import Pool
from llamadash.core.pool_view import pool_status
from llamadash.core.runtime.base import RuntimeFailure

if TYPE_CHECKING:
    from llamadash.api.dashboard import DashboardFeed

log = logging.getLogger(__name__)
KEEPALIVE_SECONDS = 15.0
# A rendered GET /status body is reused this long while the switcher's revision is unchanged
# (only the uptime ages meanwhile); fifty pollers then cost a few renders a second, not 500.
STATUS_BODY_SECONDS = 0.05


@dataclass
class ApiContext:
    """Shared by every handler of one app (``app.state.ctx``)."""

    switcher: Instance
    """The foreground instance (``pool.foreground`` when there is a pool)."""
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
    pool: Pool | None = None
    """Every instance; None for an app over one Instance (no /instances to act on)."""
    idle: IdleWatch | None = None
    """The pool's idle watch (ttl left in /instances)."""
    router: DemandRouter | None = None
    """Requests naming a model (/v1/*): queues, swaps on demand (None: no pool)."""
    upstream: UpstreamPool = field(default_factory=UpstreamPool)
    """Keep-alive connections the proxy forwards on."""
    upstream_hooked: weakref.WeakSet[Instance] = field(default_factory=weakref.WeakSet)
    """Instances that drop ``upstream``'s idle connections before they stop."""
    pulls: Pulls = field(default_factory=Pulls)
    """Model downloads started by ``POST /pull`` (their progress goes to /events)."""
    dashboards: DashboardFeed | None = None
    """What ``GET /dashboard`` streams to attached dashboards (None: it answers 503)."""
    _status_call: asyncio.Task[Status] | None = None
    _status_body: tuple[tuple[int, ...], float, bytes] | None = None

    def submit(self, target: str | None, *, restart: bool = False) -> asyncio.Task[SwitchOutcome]:
        """Switch the foreground instance to ``target`` (a profile id; None stops it), as a task.

        Through the pool (admission when max_instances > 1) when there is one. The task keeps
        running when the HTTP client goes away or stops waiting.
        """
        if self.pool is not None:
            return self.run(self.pool.switch(target, restart=restart), f"switch-{target}")
        return self.run(self.switcher.request(target, restart=restart), f"switch-{target}")

    def run(self, work: Awaitable[SwitchOutcome], name: str) -> asyncio.Task[SwitchOutcome]:
        """Run ``work`` (a pool or instance request) as a task that outlives its HTTP client."""

        async def job() -> SwitchOutcome:
            return await work

        task = asyncio.create_task(job(), name=f"llamadash-api-{name}")
        self.jobs.add(task)
        task.add_done_callback(self._job_done)
        return task

    def need_pool(self) -> Pool:
        """The pool, for the /instances routes.

        Raises:
            ApiError: 503 when this app was built over one Instance without its pool.
        """
        if self.pool is None:
            raise ApiError(503, "no_pool", "this API was started without the instance pool")
        return self.pool

    @property
    def traffic(self) -> DemandStats:
        """What /v1/* served per profile (the router's; a throwaway one without a pool)."""
        return self.router.traffic if self.router is not None else DemandStats()

    def need_router(self) -> DemandRouter:
        """The on-demand router, for the /v1/* routes.

        Raises:
            DemandRefused: 503 when this app was built over one Instance without its pool.
        """
        if self.router is None:
            raise DemandRefused(503, "no_pool", "this API was started without the instance pool")
        return self.router

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
            look = (
                self.switcher.status() if self.pool is None else pool_status(self.pool, self.idle)
            )
            call = asyncio.ensure_future(look)
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
        revision, now = self.revision, time.monotonic()
        cached = self._status_body
        if cached is not None and cached[0] == revision and now - cached[1] < STATUS_BODY_SECONDS:
            return cached[2]
        # The revision read before looking: a change while we look renders again next time.
        body = render_json((await self.status()).to_dict())
        self._status_body = (revision, now, body)
        return body

    @property
    def revision(self) -> tuple[int, ...]:
        """Changes when anything a Status shows may have changed (any instance, the list)."""
        if self.pool is None:
            return (self.switcher.revision,)
        return (self.pool.revision, *(i.revision for i in self.pool.instances()))

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
