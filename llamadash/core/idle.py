"""Which instances are in use: activity from /slots, the idle TTL, the least recently used.

Looked at while more than one instance runs or one has a ``ttl``: a slot processing, or one
that took a request since the last look, marks its instance used. An instance idle for its
profile's ``ttl`` seconds is stopped; one with a request in flight never.

A second after a look that saw activity comes the next; each quiet look doubles the pause, up
to QUIET_LOOK_SECONDS, but never beyond a tenth of the shortest ttl (at least a second) nor past
the moment a ttl runs out. A use is so recorded at most one pause late, the resolution of
least recently used and of ttl; four quiet instances cost 4 requests in 8 s, not 4 a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from llamadash.core.events import State
from llamadash.core.instance import Instance
from llamadash.core.net import slot_activity
from llamadash.core.pool import Pool

log = logging.getLogger(__name__)
IDLE_LOOK_SECONDS = 1.0
QUIET_LOOK_SECONDS = 8.0
TTL_LOOK_SHARE = 0.1  # the longest pause as a share of the shortest ttl


class IdleWatch:
    """The pool's background look at every instance's slots."""

    def __init__(self, pool: Pool, interval: float = IDLE_LOOK_SECONDS) -> None:
        self.pool = pool
        self.interval = interval
        self._marks: dict[int, tuple[tuple[int, int, int], ...]] = {}
        self._quiet_looks = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Look in the background, paused by ``next_look`` (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="llamadash-idle")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.next_look())
            try:
                await self.tick()
            except Exception:  # one bad look must not end the watch
                log.exception("idle look failed")

    async def tick(self) -> list[str]:
        """Look once; returns the ids of the instances stopped for their ttl."""
        ready = [i for i in self.pool.instances() if _ready(i)]
        ttls = {i: self._ttl(i) for i in ready}
        if len(ready) < 2 and not any(ttls.values()):
            return []
        stopped = []
        now = time.time()
        self._quiet_looks += 1
        for instance in ready:
            seen = await slot_activity(instance._http)
            if seen is None:
                continue
            busy, marks = seen
            key = id(instance)
            if busy or marks != self._marks.get(key, marks):
                instance.last_used = now
                self._quiet_looks = 0
            self._marks[key] = marks
            ttl = ttls[instance]
            if ttl and not busy and now - instance.last_used >= ttl and _ready(instance):
                profile_id = instance.profile_id or ""
                await self.pool.stop(profile_id, reason=f"idle for {ttl:g} s (ttl): stopping")
                self._marks.pop(key, None)
                stopped.append(profile_id)
        return stopped

    def next_look(self) -> float:
        """Seconds until the next look (see the module's docstring)."""
        ttls = []
        for instance in self.pool.instances():
            left = self.ttl_left(instance)
            if left is not None:
                ttls.append((self._ttl(instance), left))
        return look_pause(self._quiet_looks, self.interval, ttls)

    def _ttl(self, instance: Instance) -> float:
        profile = instance.profiles.get(instance.profile_id or "")
        return profile.ttl if profile else 0.0

    def ttl_left(self, instance: Instance) -> float | None:
        """Seconds until ``instance`` is stopped for its ttl (None: it has none)."""
        ttl = self._ttl(instance)
        if not ttl or not _ready(instance):
            return None
        return max(0.0, ttl - (time.time() - instance.last_used))

    async def aclose(self) -> None:
        """Stop looking."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def look_pause(quiet_looks: int, interval: float, ttls: list[tuple[float, float]]) -> float:
    """The pause before the next look after ``quiet_looks`` looks that saw nothing.

    ``ttls``: (ttl, seconds left) of each ready instance that has one.
    """
    pause = min(interval * 2.0**quiet_looks, QUIET_LOOK_SECONDS)
    for ttl, left in ttls:
        pause = min(pause, max(interval, ttl * TTL_LOOK_SHARE), max(interval, left))
    return max(interval, pause)


def _ready(instance: Instance) -> bool:
    return instance.running and not instance.busy and instance.last_event.state == State.READY
