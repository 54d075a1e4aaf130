"""Crash restarts: an instance whose server exited on its own is started again, with backoff.

``max_restarts`` (default 0: never) bounds the restarts per instance; the count starts again
once it has been ready for ``STABLE_SECONDS``. Only a crash seen from outside counts (the
watch's "exited with code N (seen, not asked for)"); a failed switch or start is the answer
to its request and is not retried.
"""

from __future__ import annotations

import asyncio
import logging
import time

from llamadash.core.events import State, SwitchEvent
from llamadash.core.instance import Instance
from llamadash.core.pool import Pool

log = logging.getLogger(__name__)
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
STABLE_SECONDS = 60.0


class CrashRestarts:
    """Restarts what crashed, as the pool's ``max_restarts`` allows."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self._counts: dict[str, int] = {}
        self._ready_at: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        pool.subscribe(self._on_event)

    def _on_event(self, event: SwitchEvent) -> None:
        name = event.instance
        if name is None:
            return
        if event.state == State.READY:
            self._ready_at[name] = time.monotonic()
            return
        if event.state != State.FAILED or event.exit_code is None:
            return
        instance = self._instance(name)
        if instance is None or instance.busy:  # a switch's own failure: its caller is told
            return
        if time.monotonic() - self._ready_at.get(name, 0.0) >= STABLE_SECONDS:
            self._counts[name] = 0  # it had run well: a new series of crashes
        done = self._counts.get(name, 0)
        if done >= self.pool.settings.max_restarts:
            return
        self._counts[name] = done + 1
        delay = min(FIRST_BACKOFF * 2**done, MAX_BACKOFF)
        task = asyncio.get_running_loop().create_task(self._restart(instance, name, delay))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _instance(self, name: str) -> Instance | None:
        for instance in self.pool.instances():
            if instance.last_event.instance == name:
                return instance
        return None

    async def _restart(self, instance: Instance, name: str, delay: float) -> None:
        count, limit = self._counts[name], self.pool.settings.max_restarts
        instance.logs.separator(f"crashed: restart {count} of {limit} in {delay:g} s")
        await asyncio.sleep(delay)
        if instance.busy or instance.running or instance.last_event.state != State.FAILED:
            return  # someone acted meanwhile (a switch, a stop, a start by hand)
        try:
            outcome = await instance.request(name, restart=True)
        except Exception:  # the profile was removed meanwhile, or the engine went away
            log.exception("restarting %s failed", name)
            return
        log.info("restarted %s after a crash: %s", name, outcome.message)

    @property
    def pending(self) -> int:
        """Restarts waiting for their backoff or running."""
        return len(self._tasks)

    async def aclose(self) -> None:
        """Cancel restarts still waiting for their backoff."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
