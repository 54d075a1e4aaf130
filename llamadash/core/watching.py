"""Servers that change without a switch: adopted at start, killed or started from outside.

Every observed change is an event (SSE clients hear of a container killed from outside), and
a server that is still loading is ``loading`` until its /health answers 200, whoever started
it. ``Instance.adopt`` starts ``watch()`` unless its front end looks by itself (the dashboard),
so such changes are seen while nobody asks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from llamadash.core.engine_state import TAIL_LINES, EngineState
from llamadash.core.events import State
from llamadash.core.net import health
from llamadash.core.runtime.base import CLEAN_EXIT_CODES, Observation

ADOPTED_HEALTH_INTERVAL = 0.25
# The watch looks at least this often even when the runtime says nothing changed (docker
# events could be lost): what the dashboard does for its own look (ui/workers.py).
WATCH_RECHECK_SECONDS = 30.0


class Watching(EngineState):
    """Adopt, watch and report what runs, from observation."""

    _load_watch: asyncio.Task[None] | None = None
    _watch_task: asyncio.Task[None] | None = None

    async def adopt_running(self, obs: Observation) -> None:
        """Report and follow a server found running at start."""
        await self._report_running(obs, "adopted a running server")
        self.follower.attach(obs.ident)

    async def _report_running(self, obs: Observation, message: str) -> None:
        """READY only after /health 200; a loading server is watched until it is."""
        profile = self.profiles.get(obs.profile_id) if obs.profile_id else None
        if await health(self._http) == 200:
            self._emit(State.READY, profile, message=message)
            return
        self._emit(State.LOADING, profile, message=f"{message} (still loading)")
        if self._load_watch is None or self._load_watch.done():
            self._load_watch = asyncio.create_task(self._await_adopted(obs))

    async def _await_adopted(self, obs: Observation) -> None:
        """Wait for an adopted server's /health 200 (it may exit instead: observed)."""
        profile = self.profiles.get(obs.profile_id) if obs.profile_id else None
        while not self.busy and self._last.state == State.LOADING:
            if await health(self._http) == 200:
                if not self.busy:
                    self._emit(State.READY, profile, message="adopted server is ready")
                return
            current = await self.observe(max_age=ADOPTED_HEALTH_INTERVAL)
            if not current.running or current.ident != obs.ident:
                return  # observe() published the change
            await asyncio.sleep(ADOPTED_HEALTH_INTERVAL)

    async def _observed_change(self, obs: Observation) -> None:
        if self.busy:
            return  # the switch's own events say what happens
        if obs.running:
            self.server_starts += 1
            if obs.ident != self.follower.ident:
                self.follower.attach(obs.ident)
            await self._report_running(obs, "a server was started outside llamadash")
            return
        profile = self.profiles.get(obs.profile_id) if obs.profile_id else None
        code = obs.exit_code
        if obs.state == "exited" and code not in (None, *CLEAN_EXIT_CODES):
            reason = f"llama-server exited with code {code} (seen, not asked for)"
            tail = tuple(self.runtime.log_tail(obs.ident, TAIL_LINES)) if obs.ident else ()
            self._emit(
                State.FAILED, profile, error=reason, exit_code=code, log_tail=tail, message=reason
            )
        elif self._last.state != State.IDLE:
            self._emit(State.IDLE, None, message="the server stopped (seen, not asked for)")

    def watch(self, interval: float) -> None:
        """Watch the runtime in the background (idempotent).

        Every ``interval`` seconds it looks if the runtime may have changed (``changed``), and
        at least every WATCH_RECHECK_SECONDS.
        """
        if self._watch_task is None or self._watch_task.done():
            self._watch_task = asyncio.create_task(self._watch(interval), name="llamadash-watch")

    async def _watch(self, interval: float) -> None:
        looked = time.monotonic()
        while True:
            await asyncio.sleep(interval)
            if self.busy:
                continue  # the switch's own events say what happens; its flag waits
            changed = self.runtime.changed()  # asked first: it resets, whatever follows
            if not changed and time.monotonic() - looked < WATCH_RECHECK_SECONDS:
                continue
            looked = time.monotonic()
            with contextlib.suppress(Exception):  # an engine hiccup: the next look tells
                await self.observe(max_age=0)  # a cached look may predate the change

    def _stop_watching(self) -> None:
        for task in (self._watch_task, self._load_watch):
            if task is not None and not task.done():
                task.cancel()
