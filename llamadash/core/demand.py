"""Requests that name a model: start or swap it on demand, hold them while it loads, no thrash.

A request for a ready model goes straight through and is counted in flight (``Pool.in_flight``:
such an instance is never evicted). A request for any other model waits in its model's FIFO
queue (at most ``queue_limit``) while one scheduler task decides what loads next:

* the model whose oldest request has waited longest goes next, and every request queued for
  it is let through at once when it is ready — interleaved A B A B… requests cost one swap,
  not one per request;
* requests for the running model still join it for ``batch_window`` seconds after another
  model's first request arrived; later ones queue for its next turn;
* a swap waits for the running model's requests in flight to finish (``max_wait``, then 503,
  or the swap goes ahead when ``preempt``);
* for ``manual_hold`` seconds after a person switched (``m``, the CLI, POST /switch) requests
  do not undo it: they wait within ``max_wait`` and then get 409 naming what runs.

With ``max_instances = 1`` a load is ``Pool.switch``; otherwise ``Pool.start`` (alongside,
evicting idle instances as admission plans).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
import time
from collections import Counter, deque
from collections.abc import Callable

from llamadash.core.admission import AdmissionRefused
from llamadash.core.demand_flags import FlagRouting
from llamadash.core.demand_rules import SwapRules
from llamadash.core.demand_stats import DemandStats
from llamadash.core.demand_types import Blocked, DemandRefused, Lease, Waiter
from llamadash.core.engine_state import SwitchError
from llamadash.core.events import Result, State
from llamadash.core.instance import Instance
from llamadash.core.pool import Pool

__all__ = ["DemandRefused", "DemandRouter", "Lease"]
log = logging.getLogger(__name__)
LOOK_AGAIN = 1.0  # while requests wait, look at least this often (deadlines, missed events)
DEFAULT_LOAD_SECONDS = 5.0  # Retry-After for a model never loaded


class DemandRouter(SwapRules):
    """Maps requests to ready instances of the pool, loading what they name."""

    def __init__(self, pool: Pool, clock: Callable[[], float] = time.monotonic) -> None:
        self.pool = pool
        self.clock = clock
        self.swaps: Counter[str] = Counter()
        """Loads that replaced another model, per profile loaded, caused by requests."""
        self.loads: Counter[str] = Counter()
        """Loads caused by requests, per profile."""
        self.flags = FlagRouting(pool)
        """Per-request flags (``X-Agent-Flags``): request fields or a variant instance."""
        self.traffic = DemandStats()
        """What the proxy served per profile (fed by the API, read by /metrics and the UI)."""
        self._queues: dict[str, deque[Waiter]] = {}
        self._blocked: tuple[str, Blocked] | None = None  # the next model, and why it waits
        self._refused_at: tuple[str, int, int] | None = None  # admission refused: pool state
        self._refusal = ""  # what admission said then
        self._last_release: dict[str, float] = {}  # when each model's last request ended
        self._look_at = float("inf")  # the scheduler's next look (a linger ending)
        self._loading: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        pool.subscribe(lambda _event: self._wake.set())

    def waiting(self, profile_id: str | None = None) -> int:
        """Requests waiting, for one model or all."""
        if profile_id is not None:
            return len(self._queues.get(profile_id, ()))
        return sum(len(q) for q in self._queues.values())

    def queued(self) -> list[str]:
        """Profiles with requests waiting."""
        return [p for p, q in self._queues.items() if q]

    def ready_instance(self, profile_id: str) -> Instance | None:
        """The instance serving ``profile_id`` now, if it is ready and no switch runs on it."""
        instance = self.pool.find(profile_id)
        if instance is None or instance.busy or not instance.running:
            return None
        last = instance.last_event
        if last.state != State.READY or last.profile_id != profile_id:
            return None
        return instance

    def load_estimate(self, profile_id: str) -> float:
        """Seconds a load of ``profile_id`` takes: the median of its past loads."""
        past = self.pool.foreground.history.get(profile_id)
        return statistics.median(past) if past else DEFAULT_LOAD_SECONDS

    # --- the request side -----------------------------------------------------------------
    async def acquire(self, profile_id: str) -> Lease:
        """Wait until ``profile_id`` is ready for one more request; release the lease after.

        Raises:
            DemandRefused: the queue is full (429), the load failed (502), it did not happen
                in time (503/504), or a person's choice or ``on_demand = false`` holds (409).
        """
        now = self.clock()
        ready = self.ready_instance(profile_id)
        if ready is not None and not self._queues.get(profile_id) and self._may_join(profile_id):
            return self._grant_now(profile_id, ready, now)
        if ready is None and not self.settings.on_demand:
            raise DemandRefused(
                409,
                "model_not_running",
                f"{profile_id} is not running and on_demand is off; running: {self._runs()}",
            )
        queue = self._queues.setdefault(profile_id, deque())
        if len(queue) >= self.settings.queue_limit:
            raise DemandRefused(
                429,
                "queue_full",
                f"{len(queue)} requests already wait for {profile_id} (queue_limit)",
                retry_after=self.load_estimate(profile_id),
            )
        waiter = Waiter(profile_id, now, asyncio.get_running_loop().create_future())
        queue.append(waiter)
        self._kick()
        try:
            instance = await waiter.future
        except asyncio.CancelledError:  # the client went away while it waited
            if waiter in queue:
                queue.remove(waiter)
            elif (
                waiter.future.done()
                and not waiter.future.cancelled()
                and not waiter.future.exception()
            ):
                self._release_name(profile_id)  # granted just before the cancel
            raise
        return Lease(profile_id, instance, self.clock() - now, self._release)

    def _grant_now(self, profile_id: str, instance: Instance, arrived: float) -> Lease:
        self.pool.in_flight[profile_id] += 1
        return Lease(profile_id, instance, self.clock() - arrived, self._release)

    def _may_join(self, profile_id: str) -> bool:
        """A ready model takes a new request unless another waited past ``batch_window``."""
        oldest = min(
            (q[0].arrived for p, q in self._queues.items() if q and p != profile_id),
            default=None,
        )
        return oldest is None or self.clock() - oldest < self.settings.batch_window

    def _release(self, lease: Lease) -> None:
        lease.instance.last_used = time.time()
        self._release_name(lease.profile_id)

    def _release_name(self, profile_id: str) -> None:
        self._last_release[profile_id] = self.clock()
        in_flight = self.pool.in_flight
        in_flight[profile_id] -= 1
        if in_flight[profile_id] <= 0:
            del in_flight[profile_id]
            if self._queues:
                self._wake.set()

    # --- the scheduler --------------------------------------------------------------------
    def _kick(self) -> None:
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._schedule(), name="llamadash-demand")

    async def _schedule(self) -> None:
        while self._queues:
            self._wake.clear()
            try:
                self._step()
            except Exception:  # one bad look must not strand the waiting requests
                log.exception("demand scheduling failed")
            if not self._queues:
                break
            timeout = min(LOOK_AGAIN, max(0.0, self._look_at - self.clock()))
            self._look_at = float("inf")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _step(self) -> None:
        """Let through what can go, answer what waited too long, start the next load."""
        self._drop_empty()
        target = self._next_model()
        if target is None:
            return
        ready = self.ready_instance(target)
        if ready is not None:
            for waiter in self._queues.pop(target):
                if not waiter.future.done():
                    self.pool.in_flight[target] += 1
                    waiter.future.set_result(ready)
            self._blocked = None
            self._wake.set()  # another model may be next
            return
        self._expire(target)
        if self._loading is None or self._loading.done():
            blocked = self._why_not_now(target)
            self._blocked = (target, blocked) if blocked else None
            if blocked is None:
                self._loading = asyncio.create_task(self._load(target), name=f"demand-{target}")

    def _drop_empty(self) -> None:
        for profile_id in [p for p, q in self._queues.items() if not q]:
            del self._queues[profile_id]

    def _next_model(self) -> str | None:
        """The model whose oldest waiting request came first."""
        heads = [(q[0].arrived, p) for p, q in self._queues.items() if q]
        return min(heads)[1] if heads else None

    def _expire(self, target: str) -> None:
        """504 past switch_timeout; the next model's requests past max_wait get its block."""
        now = self.clock()
        blocked = self._blocked[1] if self._blocked and self._blocked[0] == target else None
        for profile_id, queue in self._queues.items():
            for waiter in list(queue):
                waited = now - waiter.arrived
                if waited > self.settings.switch_timeout:
                    error = DemandRefused(
                        504, "load_timeout", f"{profile_id} was not ready within {waited:.0f} s"
                    )
                elif profile_id == target and blocked and waited > self.settings.max_wait:
                    error = DemandRefused(blocked.status, blocked.code, blocked.message)
                else:
                    continue
                queue.remove(waiter)
                if not waiter.future.done():
                    waiter.future.set_exception(error)

    async def _load(self, target: str) -> None:
        """Load ``target`` for its waiting requests; a failure answers all of them."""
        fg = self.pool.foreground
        replacing = fg.profile_id
        try:
            if self.settings.max_instances > 1:
                chosen = self.pool.chosen[0] if self.pool.chosen else None
                held = chosen is not None and self._held_elsewhere(target)
                outcome = await self.pool.start(
                    target, keep=frozenset({chosen} if held and chosen else ())
                )
            else:
                outcome = await self.pool.switch(target, by_request=True)
        except AdmissionRefused as refused:
            self._refusal = str(refused)
            self._refused_at = (target, *self._pool_state())
            return
        except SwitchError as exc:
            self._fail(target, DemandRefused(502, "load_failed", str(exc)))
            return
        finally:
            self._wake.set()
        self._refused_at = None
        self.loads[target] += 1
        if self.settings.max_instances == 1 and replacing not in (None, target):
            self.swaps[target] += 1
        if outcome.result == Result.FAILED:
            message = f"{target} failed to load: {outcome.message}"
            self._fail(
                target, DemandRefused(502, "load_failed", message, log_tail=outcome.log_tail)
            )

    def _fail(self, target: str, error: DemandRefused) -> None:
        for waiter in self._queues.pop(target, ()):
            if not waiter.future.done():
                waiter.future.set_exception(error)

    async def aclose(self) -> None:
        """Answer every waiting request (503: shutting down) and stop scheduling."""
        for profile_id in list(self._queues):
            self._fail(profile_id, DemandRefused(503, "shutting_down", "llamadash is stopping"))
        for task in (self._task, self._loading):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
