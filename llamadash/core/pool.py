"""The pool: which servers run and why — the foreground instance and those beside it.

"Switch to X" replaces the foreground instance (port, compose project ``llamadash`` and .env
as before the pool); "start X" adds one alongside, on a port from ``port_range`` with its own
project and log. Before either, admission (core/admission.py) checks the instance count and
the memory budget and stops idle, unpinned instances, least recently used first, or refuses.
A profile runs in at most one instance, so an instance's id is its profile id. With
``max_instances = 1`` and nothing beside it, a switch is exactly the single-server flow.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Protocol

from llamadash.core.admission import AdmissionRefused, Holder, Need, plan_admission
from llamadash.core.engine_state import EventListener, SwitchError
from llamadash.core.events import BUSY_STATES, Result, State, SwitchEvent, SwitchOutcome
from llamadash.core.instance import Instance
from llamadash.core.net import pick_port, server_busy
from llamadash.core.profiles import Profile, ProfileSet
from llamadash.core.settings import Settings
from llamadash.core.statefile import PoolRecord

__all__ = ["AdmissionRefused", "MemoryFacts", "Pool", "Spawn"]
log = logging.getLogger(__name__)

Spawn = Callable[[str, int], Instance]
"""Make an instance beside the foreground one: (profile id, port) → a new Instance."""


class MemoryFacts(Protocol):
    """What admission needs to know about memory (core/pool_memory.py)."""

    async def need(self, instance: Instance, profile: Profile) -> tuple[int, bool]:
        """Bytes ``profile`` will take on ``instance``, and whether that was measured."""
        ...

    def held(self, instance: Instance) -> tuple[int, bool]:
        """Bytes a running instance holds, and whether that was measured."""
        ...

    def budget(self, holders: Sequence[Holder]) -> tuple[int, str]:
        """Bytes all instances may use together, and what that budget is."""
        ...

    async def measure(self, instance: Instance) -> None:
        """Record what a ready instance really uses."""
        ...


class Pool:
    """Every instance llamadash drives, with admission, eviction and ports."""

    def __init__(
        self, foreground: Instance, spawn: Spawn, memory: MemoryFacts, record: PoolRecord
    ) -> None:
        self.foreground = foreground
        self.memory = memory
        self.record = record
        self._spawn = spawn
        self._alongside: dict[str, Instance] = {}
        self._starting: dict[str, Instance] = {}  # admitted, its request not queued yet
        self._admit_lock = asyncio.Lock()
        self._listeners: list[EventListener] = []
        self.revision = 0
        """Bumped when an instance is added or removed (readers of the list compare it)."""
        self.in_flight: Counter[str] = Counter()
        """Requests forwarded to each profile's server now (core/demand.py): never evicted."""
        self.chosen: tuple[str | None, float] | None = None
        """The profile a person last switched to, and when (monotonic): requests defer to it."""
        foreground.subscribe(self._relay)

    @property
    def settings(self) -> Settings:
        """The settings (the foreground instance's)."""
        return self.foreground.settings

    @property
    def profiles(self) -> ProfileSet:
        """The profiles now (models.conf as last read)."""
        return self.foreground.profiles

    def instances(self) -> list[Instance]:
        """The foreground instance, then the others in the order they started."""
        return [self.foreground, *self._alongside.values()]

    def find(self, profile_id: str) -> Instance | None:
        """The instance running or heading for ``profile_id``."""
        if self.foreground.profile_id == profile_id:
            return self.foreground
        return self._alongside.get(profile_id) or self._starting.get(profile_id)

    # --- events ---------------------------------------------------------------------------
    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Every instance's events (each names its instance); returns the unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _relay(self, event: SwitchEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken subscriber must not break an instance
                log.exception("pool event listener failed")

    # --- the requests ---------------------------------------------------------------------
    async def switch(
        self, target: str | None, *, restart: bool = False, by_request: bool = False
    ) -> SwitchOutcome:
        """Replace the foreground instance's server with ``target`` (None stops it).

        ``by_request``: a /v1/* request asked for it (core/demand.py), not a person; a
        person's switch is remembered in :attr:`chosen` so requests do not undo it at once.
        """
        fg = self.foreground
        if not by_request:
            self.chosen = (target, time.monotonic())
        if target is None or (self.settings.max_instances == 1 and not self._alongside):
            return await fg.request(target, restart=restart)
        profile = self._profile(target)
        beside = self._alongside.get(target)
        if beside is not None:  # a profile runs once: it moves to the foreground
            await self._stop_beside(beside)
        async with self._admit_lock:
            if fg.profile_id != target:
                await self._admit(fg, profile, replacing=fg.profile_id)
        outcome = await fg.request(target, restart=restart)
        if outcome.result == Result.READY and outcome.restarted:
            await self.memory.measure(fg)
        return outcome

    async def start(self, target: str, *, keep: frozenset[str] = frozenset()) -> SwitchOutcome:
        """Run ``target`` alongside what runs (into the foreground instance when it is idle).

        ``keep``: profiles admission must not evict for it (a person's recent choice).

        Raises:
            SwitchError: no such profile.
            AdmissionRefused: it does not fit and nothing may be stopped for it.
        """
        profile = self._profile(target)
        if (existing := self.find(target)) is not None:
            return await existing.request(target)
        async with self._admit_lock:
            if (existing := self.find(target)) is not None:
                instance = existing
            else:
                instance = await self._place(profile, keep)
                self._starting[target] = instance
        try:
            outcome = await instance.request(target)
        finally:
            self._starting.pop(target, None)
        if outcome.result == Result.READY:
            await self.memory.measure(instance)
        return outcome

    async def _place(self, profile: Profile, keep: frozenset[str]) -> Instance:
        """Admit ``profile``: evict what the plan says, then pick or make its instance."""
        fg = self.foreground
        await self._admit(fg, profile, replacing=None, keep=keep)
        if fg.profile_id is None and not fg.busy:  # idle, or evicted just now
            return fg
        instance = self._spawn(profile.id, self._port_for(profile))
        self._add(profile.id, instance)
        return instance

    async def _admit(
        self,
        instance: Instance,
        profile: Profile,
        replacing: str | None,
        keep: frozenset[str] = frozenset(),
    ) -> tuple[str, ...]:
        """Plan the start of ``profile`` and stop what the plan evicts; returns their ids."""
        holders = await self.holders(keep)
        need_bytes, measured = await self.memory.need(instance, profile)
        budget, kind = self.memory.budget(holders)
        plan = plan_admission(
            Need(profile.id, need_bytes, measured),
            holders,
            budget=budget,
            budget_kind=kind,
            max_instances=self.settings.max_instances,
            replacing=replacing,
        )
        for victim in plan.evict:
            await self.stop(victim, reason=f"stopped to make room for {profile.id}")
        return plan.evict

    async def holders(self, keep: frozenset[str] = frozenset()) -> list[Holder]:
        """Every instance running or loading, as admission sees it (``keep``: as if pinned)."""
        holders = []
        for instance in self.instances():
            profile_id = instance.profile_id
            if profile_id is None or instance.last_event.state == State.FAILED:
                continue
            profile = self.profiles.get(profile_id)
            memory, measured = self.memory.held(instance)
            busy = instance.busy or instance.last_event.state in BUSY_STATES
            busy = busy or self.in_flight[profile_id] > 0
            if not busy and instance.running:
                busy = await server_busy(instance._http) is True
            holders.append(
                Holder(
                    profile_id,
                    memory,
                    measured,
                    pinned=bool(profile and profile.pin) or profile_id in keep,
                    busy=busy,
                    last_used=instance.last_used,
                    foreground=instance is self.foreground,
                )
            )
        return holders

    async def stop(self, target: str | None = None, *, reason: str = "") -> list[SwitchOutcome]:
        """Stop the instance running ``target``, or every instance (None)."""
        if target is None:
            beside = [self._stop_beside(i) for i in list(self._alongside.values())]
            outcomes = await asyncio.gather(self.foreground.request(None), *beside)
            return list(outcomes)
        instance = self.find(target)
        if instance is None:
            return [SwitchOutcome(Result.STOPPED, target, f"{target} is not running", 0.0, False)]
        if reason:
            instance.logs.separator(reason)
        if instance is self.foreground:
            return [await instance.request(None)]
        return [await self._stop_beside(instance)]

    async def restart(self, target: str) -> SwitchOutcome:
        """Start ``target`` again with its current profile (where it runs now)."""
        instance = self.find(target)
        if instance is None:
            return await self.start(target)
        return await instance.request(target, restart=True)

    async def _stop_beside(self, instance: Instance) -> SwitchOutcome:
        outcome = await instance.request(None)
        for key, member in list(self._alongside.items()):
            if member is instance:
                del self._alongside[key]
                self.record.drop(key)
        self.revision += 1
        await instance.aclose()
        return outcome

    # --- members --------------------------------------------------------------------------
    def _add(self, profile_id: str, instance: Instance) -> None:
        instance.foreground = False
        instance.subscribe(self._relay)
        self._alongside[profile_id] = instance
        self.record.add(profile_id, instance.settings.port)
        self.revision += 1
        instance.watch(instance.runtime.watch_interval)  # a crash is an event, asked or not

    def _port_for(self, profile: Profile) -> int:
        """The profile's own ``port``, else the first free one of ``port_range``."""
        return pick_port(profile, {i.settings.port for i in self.instances()}, self.settings)

    def _profile(self, target: str) -> Profile:
        profile = self.profiles.get(target)
        if profile is None:
            raise SwitchError(f"no profile with id {target!r}")
        return profile

    def replace_profiles(self, profiles: ProfileSet) -> None:
        """models.conf was reloaded: every instance beside the foreground sees it too."""
        for instance in self._alongside.values():
            instance.replace_profiles(profiles)

    async def adopt(self, *, watch: bool = True) -> None:
        """Take over what runs: the foreground server and those an earlier llamadash recorded."""
        await self.foreground.adopt(watch=watch)
        for profile_id, port in self.record.members().items():
            if profile_id in self._alongside:  # adopted before: one Instance per server
                continue
            instance = self._spawn(profile_id, port)
            obs = await instance.observe(max_age=0)
            if not obs.running:
                self.record.drop(profile_id)
                await instance.aclose()
                continue
            self._add(profile_id, instance)
            await instance.adopt(watch=False)

    async def aclose(self) -> None:
        """Stop following and close clients; every server keeps running."""
        for instance in list(self._alongside.values()):
            await instance.aclose()
        await self.foreground.aclose()
