"""One server's lifecycle: the switch flow of the foreground instance and of each one beside it.

The pool (core/pool.py) decides which instances exist; each Instance runs its own requests
(``m`` key, POST /switch, ``llamadash switch`` for the foreground one).

stop → regenerate .env → up → follow logs → poll /health → ready, as a single-flight queue:
one switch runs at a time; a request for the running target joins it; newer requests queue and
only the latest queued target runs next, the ones it replaces finishing as "superseded".
Runs on one asyncio loop; blocking runtime calls go to threads. The steps are in
core/procedure.py, outside changes in core/watching.py, the shared state in
core/engine_state.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace

from llamadash.core.engine_state import DURATION_BUCKETS, Job, SwitchError, SwitchStats
from llamadash.core.events import Result, State, Status, SwitchOutcome
from llamadash.core.net import health
from llamadash.core.procedure import SwitchProcedure
from llamadash.core.profiles import ProfileSet
from llamadash.core.runtime.base import EngineUnavailableError
from llamadash.core.status import build_status
from llamadash.core.watching import Watching

__all__ = ["DURATION_BUCKETS", "Instance", "SwitchError", "SwitchStats"]
log = logging.getLogger(__name__)


class Instance(SwitchProcedure, Watching):
    """Owns the server's lifecycle; publishes a SwitchEvent for every change."""

    _runner: asyncio.Task[None] | None = None
    _obs_refresh: asyncio.Task[None] | None = None

    async def adopt(self, *, watch: bool = True) -> Status:
        """Look at what runs now (left by an earlier llamadash or started by hand).

        ``watch``: then look again every ``runtime.watch_interval`` seconds, so changes made
        outside llamadash are events even when nobody asks. The dashboard says False: it
        observes on its own refresh and on docker events, and the extra look cost it ~0.1%
        of a core.
        """
        obs = await self.observe(max_age=0)
        if obs.running:
            await self.adopt_running(obs)
        if watch:
            self.watch(self.runtime.watch_interval)
        return await self.status()

    def replace_profiles(self, profiles: ProfileSet) -> None:
        """models.conf was reloaded (core/reload.py): requests from now on see ``profiles``.

        The running switch keeps the profile it started with; a queued request whose profile
        was removed fails at once (its caller would otherwise wait for a profile now gone).
        """
        self.profiles = profiles.keeping_variants(self.profiles)
        queued = self._queued
        if queued is not None and queued.target and profiles.get(queued.target) is None:
            self._queued = None
            if not queued.future.done():
                reason = f"profile {queued.target!r} was removed from {profiles.path}"
                queued.future.set_result(SwitchOutcome(Result.FAILED, queued.target, reason))
        self.revision += 1

    @property
    def profile_id(self) -> str | None:
        """The profile this instance runs or is heading for (None: nothing), without I/O."""
        for job in (self._active, self._queued):
            if job is not None:
                return job.target
        if self._checking:
            return self._checking[-1]
        obs = self._obs_last
        if obs is not None and obs.running:
            return obs.profile_id or None
        if self._last.state in (State.LOADING, State.STARTING, State.READY):
            return self._last.profile_id
        return None

    @property
    def running(self) -> bool:
        """Its server process was alive at the last look (cached, no I/O)."""
        return self._obs_last is not None and self._obs_last.running

    # --- requests -------------------------------------------------------------------------
    async def request(self, target: str | None, *, restart: bool = False) -> SwitchOutcome:
        """Switch to profile id ``target`` (None stops the server) and wait for the outcome.

        Raises:
            SwitchError: ``target`` is not a profile id (resolve names with ProfileSet.resolve).
        """
        if target is not None and self.profiles.get(target) is None:
            raise SwitchError(f"no profile with id {target!r}")
        if (joined := self._join_active(target, restart)) is not None:
            return await joined
        if (
            self._active is None
            and not restart
            and await self._checked_already(target)
            and self._active is None  # and nothing was asked meanwhile
            and self._queued is None
        ):
            result = Result.READY if target else Result.STOPPED
            return SwitchOutcome(result, target, f"already {result.value}", restarted=False)
        # _already() awaited: other requests may have queued or started a job meanwhile, and
        # overwriting a stale `queued` would leave its callers waiting forever: look again.
        if (joined := self._join_active(target, restart)) is not None:
            return await joined
        queued = self._queued
        if queued is not None and queued.target == target:
            job = queued
        else:
            if queued is not None:
                self._supersede(queued, target)
            job = Job(target, asyncio.get_running_loop().create_future(), restart)
            self._queued = job
            self.revision += 1
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run(), name="llamadash-switcher")
        return await asyncio.shield(job.future)

    def _join_active(
        self, target: str | None, restart: bool
    ) -> asyncio.Future[SwitchOutcome] | None:
        """Join the running job if it heads for ``target`` (a queued other target loses)."""
        active = self._active
        if active is None or active.target != target or restart:
            return None
        if self._queued is not None:
            self._supersede(self._queued, target)
            self._queued = None
            self.revision += 1
        return asyncio.shield(active.future)

    async def _checked_already(self, target: str | None) -> bool:
        """``_already(target)``, with status showing the request while it is checked.

        The check observes the runtime (milliseconds, or more on a busy engine); a client
        that asked with ``"wait": false`` and polls /status must not see a plain "idle".
        """
        self._checking.append(target)
        self.revision += 1
        try:
            return await self._already(target)
        finally:
            self._checking.remove(target)
            self.revision += 1

    async def _already(self, target: str | None) -> bool:
        """True when ``target`` is what already runs healthy (or, for a stop, nothing runs)."""
        obs = await self.observe(max_age=0)
        if target is None:
            return not obs.running
        if not obs.running or obs.profile_id != target or self._last.state != State.READY:
            return False
        return await health(self._http) == 200

    def _supersede(self, job: Job, by: str | None) -> None:
        self.stats.superseded += 1
        if not job.future.done():
            job.future.set_result(
                SwitchOutcome(
                    Result.SUPERSEDED,
                    job.target,
                    f"superseded by a newer request for {by or 'stop'}",
                    restarted=False,
                    superseded_by=by,
                )
            )

    async def _run(self) -> None:
        while self._queued is not None:
            job, self._queued = self._queued, None
            self._active = job
            self.revision += 1
            try:
                if job.target is None:
                    outcome = await self._stop_server()
                else:
                    outcome = await self._switch(self.profiles.get(job.target))  # type: ignore[arg-type]
            except EngineUnavailableError as exc:
                reason = f"{exc}; {await self._what_still_runs()}"
                outcome = self._fail(self.profiles.get(job.target or ""), reason)
            except Exception as exc:  # the runner must survive anything and answer its caller
                log.exception("switch failed unexpectedly")
                outcome = self._fail(self.profiles.get(job.target or ""), f"internal error: {exc}")
            finally:
                self._active = None
                self.revision += 1
            if not job.future.done():
                job.future.set_result(outcome)

    async def _what_still_runs(self) -> str:
        """For an engine that stopped answering: whether llama-server itself still does."""
        code = await health(self._http)
        if code is None:
            return f"nothing answers on {self.endpoint}"
        return f"llama-server still answers on {self.endpoint} (/health {code})"

    async def status(self) -> Status:
        """What runs now, from the last event and a fresh-enough observation.

        While a switch runs the state comes from its events, and the engine is slow to answer
        (it is stopping or creating the container): status then never waits for it. It shows
        the last observation and refreshes it in the background; waiting made every GET
        /status queue behind one docker inspect, 100 ms and more at a container's start.
        """
        if self.busy and (self._obs_cache is not None or self._obs_last is not None):
            if self._obs_cache is not None:
                obs = self._obs_cache[1]
            else:
                assert self._obs_last is not None
                obs = self._obs_last
                self._refresh_soon()
        else:
            obs = await self.observe()
        queued = self._queued.target if self._queued else None
        if self._active is not None:
            target = self._active.target
        elif self._checking:
            target = self._checking[-1]
        else:  # queued, its runner task not started yet: that switch is the one under way
            target = queued
        return replace(build_status(self, obs, queued), switching_to=target)

    def _refresh_soon(self) -> None:
        """Observe in the background (one at a time); status uses the result when it lands."""
        if self._obs_refresh is None or self._obs_refresh.done():
            self._obs_refresh = asyncio.create_task(self._refresh_observation())

    async def _refresh_observation(self) -> None:
        with contextlib.suppress(Exception):  # the next status call observes again
            await self.observe()

    async def aclose(self) -> None:
        """Stop following logs and close clients; the server keeps running."""
        for task in (self._runner, self._obs_refresh):
            if task is not None and not task.done():
                task.cancel()
        self._stop_watching()
        self.follower.close()
        self._http.close()
        self.logs.close()
        await asyncio.to_thread(self.runtime.close)
