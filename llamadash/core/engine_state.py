"""The switcher's shared state: its events, its observations of the runtime, its counters.

``Instance`` (the request queue, core/instance.py) is built from this base, the switch
procedure (core/procedure.py) and the watch on servers changed from outside
(core/watching.py); each part reads and writes only what is declared here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from llamadash.core.events import State, SwitchEvent, SwitchOutcome
from llamadash.core.flags import FlagCache
from llamadash.core.follower import LogFollower
from llamadash.core.histogram import Histogram
from llamadash.core.kv_cache import CacheStore
from llamadash.core.logs import LogHub
from llamadash.core.loopback import LoopbackHttp
from llamadash.core.memory import parse_size
from llamadash.core.profiles import Profile, ProfileSet
from llamadash.core.runtime.base import Observation, Runtime
from llamadash.core.settings import Settings
from llamadash.core.statefile import LoadHistory

if TYPE_CHECKING:
    from llamadash.core.reload import ConfigWatch

log = logging.getLogger(__name__)
EventListener = Callable[[SwitchEvent], None]
TAIL_LINES = 50  # log lines a failure carries
# Upper bounds (seconds) of the llamadash_switch_duration_seconds buckets in /metrics.
DURATION_BUCKETS: tuple[float, ...] = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)


class SwitchError(Exception):
    """A switch cannot even begin (bad profile, missing model, bad flag); nothing was stopped."""


@dataclass
class Job:
    """One queued or running request: a target profile id (None = stop) and its answer."""

    target: str | None
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


def observed_key(obs: Observation) -> tuple[str, str, float | None, int | None]:
    """What makes two observations a different server state (not just a later look)."""
    return (obs.state, obs.ident, obs.started_at, obs.exit_code)


class EngineState:
    """Events, observations and counters shared by the switcher's parts."""

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
        self.kv = CacheStore(
            settings.state_dir / "kv" / settings.project_name, parse_size(settings.kv_cache_budget)
        )
        """The saved prompt caches of this instance's servers (core/kv_cache.py)."""
        self.stats = SwitchStats()
        cursor = settings.state_dir / "logs" / f"{settings.project_name}.cursor.json"
        self.follower = LogFollower(runtime, self.logs, cursor)
        self._listeners: list[EventListener] = []
        self._last = SwitchEvent(State.IDLE, None, "", time.time())
        self.state_since = self._last.at
        """When the state or its profile last changed (a progress or notice event is no change)."""
        # Bumped on every change a Status could show (events, queue, observation): readers
        # that cache a rendered status (GET /status) compare it instead of recomputing.
        self.revision = 0
        self.server_starts = 0
        """Servers started or seen starting so far (readers of per-run data compare it)."""
        self._checking: list[str | None] = []  # targets of requests in their _already check
        self._active: Job | None = None
        self._queued: Job | None = None
        self._obs_last: Observation | None = None  # never cleared: shown while switching
        self._obs_cache: tuple[float, Observation] | None = None
        self._http = LoopbackHttp(runtime.endpoint_host, settings.port)
        self.config_watch: ConfigWatch | None = None  # models.conf reloads (set by build_engine)
        self._connection_owners: list[Callable[[], None]] = [self._http.close]
        self.foreground = True
        """The instance `switch` replaces (port, project and .env as before the pool)."""
        self.last_used = time.time()
        """When it last became ready or was seen working (the pool evicts the oldest)."""

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
    def last_observation(self) -> Observation | None:
        """The newest observation ever taken (kept across state changes; may be stale)."""
        return self._obs_last

    @property
    def busy(self) -> bool:
        """A switch or stop is running."""
        return self._active is not None

    def on_stop(self, close: Callable[[], None]) -> None:
        """Have ``close`` drop idle connections to the server before each stop (collectors)."""
        self._connection_owners.append(close)

    def close_connections(self) -> None:
        """Close every idle keep-alive connection llamadash holds to the server."""
        for close in self._connection_owners:
            try:
                close()
            except Exception:  # one broken closer must not keep the others open
                log.exception("closing connections failed")

    # --- subscribers ----------------------------------------------------------------------
    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener`` (on the loop) with every event; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, state: State, profile: Profile | None, **details: object) -> None:
        # A stop names no profile: the event is still about the instance that ran one.
        instance = profile.id if profile else self._last.instance
        if state == State.READY:
            self.last_used = time.time()
        self._publish(
            SwitchEvent(
                state,
                profile.id if profile else None,
                profile.name if profile else "",
                time.time(),
                instance=instance,
                foreground=self.foreground,
                **details,  # type: ignore[arg-type]
            )
        )

    def _publish(self, event: SwitchEvent) -> None:
        if event.state != self._last.state:
            self._obs_cache = None  # the server changed: the next status observes afresh
        if (event.state, event.profile_id) != (self._last.state, self._last.profile_id):
            self.state_since = event.at
        self._last = event
        self.revision += 1
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken subscriber must not break the switch
                log.exception("event listener failed")

    # --- observation ----------------------------------------------------------------------
    async def observe(self, max_age: float = 0.5) -> Observation:
        """The runtime's observation, reused for ``max_age`` seconds (status is polled a lot).

        A look that finds the server changed while no switch runs (killed, restarted or
        started from outside) is published as an event: every observed change is one.
        """
        cached = self._obs_cache
        if cached is not None and time.monotonic() - cached[0] <= max_age:
            return cached[1]
        obs = await asyncio.to_thread(self.runtime.observe)
        previous = self._obs_last
        self.remember(obs)
        if previous is not None and observed_key(previous) != observed_key(obs):
            await self._observed_change(obs)
        return obs

    def forget_observation(self) -> None:
        """The cached look is stale (the engine said the container changed): look again."""
        self._obs_cache = None
        self.revision += 1  # a cached rendering of the status is stale too

    def remember(self, obs: Observation) -> None:
        """Take ``obs`` as the newest observation.

        The switch's own start and stop return one: what they changed is no outside change.
        """
        self._obs_cache = (time.monotonic(), obs)
        self._obs_last = obs
        self.revision += 1

    async def _observed_change(self, obs: Observation) -> None:
        """React to a server that changed without a switch (core/watching.py)."""
