"""The one switch flow every caller uses (``m`` key, POST /switch, ``llamadash switch``).

stop → regenerate .env → up → follow logs → poll /health → ready, as a single-flight queue:
one switch runs at a time; a request for the running target joins it; newer requests queue and
only the latest queued target runs next, the ones it replaces finishing as "superseded".
Runs on one asyncio loop; blocking runtime calls go to threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from llamadash.core.events import Result, State, Status, SwitchEvent, SwitchOutcome
from llamadash.core.flags import FlagCache, describe_unknown, unknown_flags
from llamadash.core.histogram import Histogram
from llamadash.core.logs import LogHub
from llamadash.core.loopback import LoopbackHttp
from llamadash.core.net import health, port_free
from llamadash.core.profiles import Profile, ProfileSet
from llamadash.core.progress import ProgressTracker
from llamadash.core.runtime.base import LaunchSpec, Observation, Runtime, RuntimeFailure
from llamadash.core.settings import Settings
from llamadash.core.statefile import LoadHistory
from llamadash.core.status import build_status

if TYPE_CHECKING:
    from llamadash.core.reload import ConfigWatch

log = logging.getLogger(__name__)
EventListener = Callable[[SwitchEvent], None]
TAIL_LINES = 50
HEALTH_INTERVAL = 0.05
# Upper bounds (seconds) of the llamadash_switch_duration_seconds buckets in /metrics.
DURATION_BUCKETS: tuple[float, ...] = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)


class SwitchError(Exception):
    """A switch cannot even begin (bad profile, missing model, bad flag); nothing was stopped."""


@dataclass
class _Job:
    target: str | None  # None = stop the server
    future: asyncio.Future[SwitchOutcome]
    restart: bool = False


@dataclass
class SwitchStats:
    """Counters for /metrics.

    ``durations`` is a fixed-bucket histogram, not a list: a list grew a float per switch for
    as long as the dashboard ran, and /metrics needs only bucket counts, count and sum.
    """

    switches: int = 0
    failures: int = 0
    superseded: int = 0
    durations: Histogram = field(default_factory=lambda: Histogram(DURATION_BUCKETS))


class Switcher:
    """Owns the server's lifecycle; publishes a SwitchEvent for every change."""

    def __init__(
        self,
        profiles: ProfileSet,
        settings: Settings,
        runtime: Runtime,
        logs: LogHub | None = None,
        history: LoadHistory | None = None,
    ) -> None:
        self.profiles = profiles
        self.settings = settings
        self.runtime = runtime
        self.logs = logs or LogHub()
        self.history = history or LoadHistory(settings.state_dir / "state.toml")
        self.flag_cache = FlagCache(settings.state_dir)
        self.stats = SwitchStats()
        self._listeners: list[EventListener] = []
        self._last = SwitchEvent(State.IDLE, None, "", time.time())
        # Bumped on every change a Status could show (events, queue, observation): readers
        # that cache a rendered status (GET /status) compare it instead of recomputing.
        self.revision = 0
        self._checking: list[str | None] = []  # targets of requests in their _already check
        self._obs_last: Observation | None = None  # never cleared: shown while switching
        self._obs_refresh: asyncio.Task[None] | None = None
        self._active: _Job | None = None
        self._queued: _Job | None = None
        self._runner: asyncio.Task[None] | None = None
        self._follower: asyncio.Future[None] | None = None
        self._followed = ""
        self._obs_cache: tuple[float, Observation] | None = None
        self._http = LoopbackHttp(runtime.endpoint_host, settings.port)
        self.watch: ConfigWatch | None = None  # models.conf reloads (set by build_engine)

    @property
    def endpoint(self) -> str:
        """Base URL of llama-server."""
        return f"http://{self.runtime.endpoint_host}:{self.settings.port}"

    @property
    def last_event(self) -> SwitchEvent:
        """The newest event."""
        return self._last

    @property
    def cached_observation(self) -> Observation | None:
        """The last observation taken, without looking again (cheap, may be stale)."""
        return self._obs_cache[1] if self._obs_cache else None

    @property
    def busy(self) -> bool:
        """A switch or stop is running."""
        return self._active is not None

    # --- subscribers ----------------------------------------------------------------------
    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener`` (on the loop) with every event; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, state: State, profile: Profile | None, **details: object) -> None:
        event = SwitchEvent(
            state,
            profile.id if profile else None,
            profile.name if profile else "",
            time.time(),
            **details,  # type: ignore[arg-type]
        )
        if event.state != self._last.state:
            self._obs_cache = None  # the server changed: the next status observes afresh
        self._last = event
        self.revision += 1
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken subscriber must not break the switch
                log.exception("event listener failed")

    # --- start-up: adopt what already runs ------------------------------------------------
    async def adopt(self) -> Status:
        """Look at what runs now (left by an earlier llamadash or started by hand)."""
        obs = await self.observe(max_age=0)
        profile = self.profiles.get(obs.profile_id) if obs.profile_id else None
        if obs.running:
            code = await health(self._http)
            state = State.READY if code == 200 else State.LOADING
            self._emit(state, profile, message="adopted a running server")
            # The log file already holds what an earlier llamadash saw; else show some history.
            self._follow(obs.ident, tail=0 if self.logs.snapshot() else 200)
        return await self.status()

    def replace_profiles(self, profiles: ProfileSet) -> None:
        """models.conf was reloaded (core/reload.py): requests from now on see ``profiles``.

        The running switch keeps the profile it started with; a queued request whose profile
        was removed fails at once (its caller would otherwise wait for a profile now gone).
        """
        self.profiles = profiles
        queued = self._queued
        if queued is not None and queued.target and profiles.get(queued.target) is None:
            self._queued = None
            if not queued.future.done():
                reason = f"profile {queued.target!r} was removed from {profiles.path}"
                queued.future.set_result(SwitchOutcome(Result.FAILED, queued.target, reason))
        self.revision += 1

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
            job = _Job(target, asyncio.get_running_loop().create_future(), restart)
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

    def _supersede(self, job: _Job, by: str | None) -> None:
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
            except Exception as exc:  # the runner must survive anything and answer its caller
                log.exception("switch failed unexpectedly")
                outcome = self._fail(self.profiles.get(job.target or ""), f"internal error: {exc}")
            finally:
                self._active = None
                self.revision += 1
            if not job.future.done():
                job.future.set_result(outcome)

    # --- the switch -----------------------------------------------------------------------
    def launch_spec(self, profile: Profile) -> LaunchSpec:
        """The LaunchSpec for ``profile`` under the current settings."""
        s = self.settings
        return LaunchSpec(profile, s.models_dir, s.port, s.image, s.stop_grace)

    async def preflight(self, profile: Profile) -> LaunchSpec:
        """Check a profile can start, before anything is stopped.

        Raises:
            SwitchError: missing model file, a flag the server rejects, an unwritable value.
        """
        spec = self.launch_spec(profile)
        if not spec.model_path.is_file():
            raise SwitchError(
                f"model file not found: {spec.model_path} (profile [{profile.id}] at"
                f" {profile.source}; models_dir = {spec.models_dir})"
            )
        try:
            # command() may run `docker compose config` once: a thread, not the event loop.
            args = await asyncio.to_thread(self.runtime.command, spec)
            if hasattr(self.runtime, "env_values"):
                self.runtime.env_values(spec)
        except (RuntimeFailure, ValueError) as exc:
            raise SwitchError(str(exc)) from None
        source = await asyncio.to_thread(self.runtime.help_source, spec)
        if source is not None:
            known = await asyncio.to_thread(self.flag_cache.known_flags, *source)
            if known and (problems := unknown_flags(args, known)):
                raise SwitchError(
                    f"profile [{profile.id}] ({profile.source}): " + describe_unknown(problems)
                )
        return spec

    async def _switch(self, profile: Profile) -> SwitchOutcome:
        began = time.monotonic()
        self.stats.switches += 1  # counted before preflight, so failures <= switches
        try:
            spec = await self.preflight(profile)
        except SwitchError as exc:
            return self._fail(profile, str(exc), began=began)
        self.logs.separator(f"switching to {profile.name}")
        if (await self.observe(max_age=0)).running:
            self._emit(State.STOPPING, profile, message="stopping the current server")
        await asyncio.to_thread(self.runtime.stop, self.settings.stop_grace)
        await self._unfollow()
        if not await asyncio.to_thread(_wait_port_free, self.settings.port, 5.0):
            return self._fail(
                profile,
                f"port {self.settings.port} is still in use by another"
                " process; free it or set port in models.conf",
                began=began,
            )
        self._emit(State.STARTING, profile, message=f"starting {profile.name}")
        try:
            obs = await asyncio.to_thread(self.runtime.start, spec)
        except RuntimeFailure as exc:
            return self._fail(profile, str(exc), began=began)
        tracker = ProgressTracker(self.history.get(profile.id))
        self._follow(obs.ident, tracker)
        return await self._await_ready(profile, obs, tracker, began)

    async def _await_ready(
        self, profile: Profile, obs: Observation, tracker: ProgressTracker, began: float
    ) -> SwitchOutcome:
        load_began = time.monotonic()
        deadline = load_began + profile.timeout
        self._emit(State.LOADING, profile, progress=tracker.progress(0.0))
        last_emit, last_observe = 0.0, load_began
        while True:
            now = time.monotonic()
            if await health(self._http) == 200:
                break
            if self._follower is None or self._follower.done() or now - last_observe > 1.0:
                last_observe = now
                current = await self.observe(max_age=0)
                if current.ident != obs.ident or not current.running:
                    await self._unfollow()
                    code = current.exit_code
                    return self._fail(
                        profile,
                        f"llama-server exited with code {code} while loading",
                        exit_code=code,
                        began=began,
                        ident=obs.ident,
                    )
            if now > deadline:
                await asyncio.to_thread(self.runtime.stop, self.settings.stop_grace)
                return self._fail(
                    profile,
                    f"not healthy after {profile.timeout:.0f}s (timeout)",
                    began=began,
                    ident=obs.ident,
                )
            if now - last_emit >= 0.25:
                last_emit = now
                self._emit(State.LOADING, profile, progress=tracker.progress(now - load_began))
            await asyncio.sleep(HEALTH_INTERVAL)
        load_seconds = time.monotonic() - load_began
        total = time.monotonic() - began
        self.history.record(profile.id, load_seconds)
        self.stats.durations.observe(total)
        self._emit(State.READY, profile, message=f"ready in {total:.2f}s")
        return SwitchOutcome(Result.READY, profile.id, f"ready in {total:.2f}s", total)

    async def _stop_server(self) -> SwitchOutcome:
        began = time.monotonic()
        self._emit(State.STOPPING, None, message="stopping the server")
        await asyncio.to_thread(self.runtime.stop, self.settings.stop_grace)
        await self._unfollow()
        self._emit(State.IDLE, None, message="stopped")
        return SwitchOutcome(Result.STOPPED, None, "stopped", time.monotonic() - began)

    def _fail(
        self,
        profile: Profile | None,
        reason: str,
        *,
        exit_code: int | None = None,
        began: float | None = None,
        ident: str = "",
    ) -> SwitchOutcome:
        tail: tuple[str, ...] = ()
        if ident:
            tail = tuple(self.runtime.log_tail(ident, TAIL_LINES)) or tuple(
                self.logs.tail(TAIL_LINES)
            )
        self.stats.failures += 1
        self._emit(
            State.FAILED, profile, error=reason, exit_code=exit_code, log_tail=tail, message=reason
        )
        seconds = time.monotonic() - began if began else 0.0
        return SwitchOutcome(
            Result.FAILED, profile.id if profile else None, reason, seconds, log_tail=tail
        )

    # --- logs -----------------------------------------------------------------------------
    def _follow(
        self, ident: str, tracker: ProgressTracker | None = None, tail: int | None = None
    ) -> None:
        """Pump ``ident``'s logs into the hub from a daemon thread (it may block forever)."""
        if not ident or (self._followed == ident and self._follower and not self._follower.done()):
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def pump() -> None:
            try:
                for line in self.runtime.follow_logs(ident, tail):
                    if tracker is not None:
                        tracker.feed(line)
                    self.logs.extend((line,))
            finally:
                with contextlib.suppress(RuntimeError):  # loop already closed at exit
                    loop.call_soon_threadsafe(_resolve, done)

        self._followed = ident
        self._follower = done
        threading.Thread(target=pump, name=f"llamadash-logs-{ident[:12]}", daemon=True).start()

    async def _unfollow(self) -> None:
        if self._follower is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._follower), timeout=2.0)
        self._follower = None
        self._followed = ""

    # --- observation ----------------------------------------------------------------------
    async def observe(self, max_age: float = 0.5) -> Observation:
        """The runtime's observation, reused for ``max_age`` seconds (status is polled a lot)."""
        cached = self._obs_cache
        if cached is not None and time.monotonic() - cached[0] <= max_age:
            return cached[1]
        obs = await asyncio.to_thread(self.runtime.observe)
        self._obs_cache = (time.monotonic(), obs)
        self._obs_last = obs
        self.revision += 1
        return obs

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
        else:
            target = self._checking[-1] if self._checking else None
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
        if self._runner is not None and not self._runner.done():
            self._runner.cancel()
        if self._follower is not None:
            self._follower.cancel()
        if self._obs_refresh is not None:
            self._obs_refresh.cancel()
        self._http.close()
        self.logs.close()
        await asyncio.to_thread(self.runtime.close)


def _wait_port_free(port: int, timeout: float) -> bool:
    from llamadash.core.runtime.signals import wait_until

    return wait_until(lambda: port_free(port), timeout, interval=0.05)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
