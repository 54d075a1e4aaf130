"""The dashboard's workers: all its I/O, each posting immutable snapshots as messages."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from textual import work
from textual.worker import get_current_worker

from llamadash.core.admission import AdmissionRefused
from llamadash.core.engine_state import SwitchError
from llamadash.core.pool_view import describe_all, memory_budget
from llamadash.ui.messages import (
    ContainerSampled,
    GpuSampled,
    PoolDescribed,
    PoolRefused,
    ServerSampled,
    StatusObserved,
    SwitchFinished,
    SystemSampled,
)
from llamadash.ui.state import DashState

# With a container collector watching docker events (which trigger a look at once), status is
# re-observed at least this often: each look costs two docker API calls.
STATUS_RECHECK_REFRESHES = 30
# The instances list is described again on every instance's event and when the pool changes;
# besides, at least this often (each instance beside the foreground also watches itself, and
# a crash is an event): every description observes each instance's runtime once.
POOL_RECHECK_REFRESHES = {"process": 5, "compose": 30}
# The instances not followed are asked for their speed (the list's t/s) every this many
# refreshes: one loopback request each, instead of one a second.
OTHERS_SAMPLED_EVERY = 5


class Workers(DashState):
    """Named workers that sample the collectors, observe status and ask the engine."""

    @work(group="engine", exit_on_error=False)
    async def adopt(self) -> None:
        """Look at what already runs (from an earlier session or started by hand)."""
        # The foreground instance is not watched by the core: the dashboard looks itself
        # (observe_status, docker events); the ones beside it watch themselves.
        await self.engine.pool.adopt(watch=False)
        self.pool_changed()
        self.post_message(StatusObserved(await self.switcher.status()))

    @work(thread=True, exclusive=True, group="gpu", exit_on_error=False)
    def sample_gpu(self) -> None:
        """NVML, once per refresh period; once only when there is no GPU.

        The collector initialises NVML once and keeps its failure, so "No NVIDIA GPU found"
        cannot change while the dashboard runs: no need to wake up for it every second.
        """
        self._poll_thread(
            lambda: GpuSampled(self.collectors.gpu.collect()),  # type: ignore[union-attr]
            final=lambda message: not message.snapshot.available,
        )

    @work(thread=True, exclusive=True, group="system", exit_on_error=False)
    def sample_system(self) -> None:
        """psutil, once per refresh period."""
        self._poll_thread(lambda: SystemSampled(self.collectors.system.collect()))  # type: ignore[union-attr]

    @work(thread=True, exclusive=True, group="container", exit_on_error=False)
    def sample_container(self) -> None:
        """Docker stats (streamed by the collector) of the followed instance, once per refresh."""
        collectors = self.collectors
        assert collectors is not None

        def sample() -> ContainerSampled:
            port, collector = collectors.current_container()  # type: ignore[misc]
            return ContainerSampled(collector.collect(), port)

        self._poll_thread(sample, wake=self._container_wake)

    def _poll_thread(
        self, sample: Any, final: Any = None, wake: threading.Event | None = None
    ) -> None:
        """Post ``sample()`` once per refresh until cancelled, or until ``final(message)``.

        ``wake`` set: sample at once (the followed instance changed).
        """
        worker = get_current_worker()
        while not worker.is_cancelled:
            began = time.monotonic()
            message = sample()
            if worker.is_cancelled:
                return
            self.post_message(message)
            if final is not None and final(message):
                return
            pause = max(0.05, self.refresh_seconds - (time.monotonic() - began))
            if wake is None:
                time.sleep(pause)
            elif wake.wait(pause):
                wake.clear()

    @work(exclusive=True, group="server", exit_on_error=False)
    async def sample_server(self) -> None:
        """llama-server's /metrics, /slots, /props of the followed instance (on the loop).

        Every OTHERS_SAMPLED_EVERY refreshes, while the list shows several instances, the
        others too (their speed in the list).
        """
        collectors = self.collectors
        assert collectors is not None
        polls = 0
        while True:
            followed = self.followed
            snapshot = await collectors.server_of(followed).collect()
            self.post_message(ServerSampled(snapshot, followed.settings.port))
            polls += 1
            if polls % OTHERS_SAMPLED_EVERY == 0 and len(self.engine.pool.instances()) > 1:
                pool = self.engine.pool.instances()
                others = [i for i in pool if i is not followed and i.running]
                taken = await asyncio.gather(*(collectors.server_of(i).collect() for i in others))
                for instance, sampled in zip(others, taken, strict=True):
                    self.post_message(ServerSampled(sampled, instance.settings.port))
            await self._server_nap.sleep(self.refresh_seconds)

    @work(exclusive=True, group="status", exit_on_error=False)
    async def observe_status(self) -> None:
        """Status from observation, so outside changes show up.

        The engine's own changes arrive as events at once; this catches servers started or
        killed outside llamadash. It looks every other refresh while a switch runs or with
        the process runtime (cheap: /proc), else when the container pane saw the container
        change (docker events) and at least every 30 refreshes.
        """
        last = time.monotonic()
        while True:
            await asyncio.sleep(2 * self.refresh_seconds)
            quiet = self.collectors is not None and self.collectors.container is not None
            due = time.monotonic() - last >= STATUS_RECHECK_REFRESHES * self.refresh_seconds
            if quiet and not due and not self.switcher.busy and not self._container_changed:
                continue
            self._container_changed = False
            last = time.monotonic()
            self.post_message(StatusObserved(await self.switcher.status()))
            await self._observe_followed()

    async def _observe_followed(self) -> None:
        """The process pane of an instance beside the foreground one needs its own status."""
        followed = self.followed
        if followed is not self.switcher and (
            self.collectors is None or self.collectors.container is None
        ):
            self.post_message(StatusObserved(await followed.status(), followed.settings.port))

    @work(exclusive=True, group="status-once", exit_on_error=False)
    async def refresh_status(self) -> None:
        """One status now (models.conf was reloaded, or another instance is followed)."""
        self.post_message(StatusObserved(await self.switcher.status()))
        await self._observe_followed()

    @work(exclusive=True, group="pool", exit_on_error=False)
    async def watch_pool(self) -> None:
        """The instances list: the pool described when one of its instances changed.

        Woken by every instance's events (and the dashboard's own starts and stops), at most
        once per refresh; while the list is shown also every POOL_RECHECK_REFRESHES. While
        only the foreground instance exists and the list is hidden nothing is described and
        nothing wakes up for it (``max_instances = 1`` costs what it did before the pool).
        """
        pool = self.engine.pool
        every = POOL_RECHECK_REFRESHES.get(self.engine.runtime.name, 5) * self.refresh_seconds
        while True:
            await self._pool_nap.sleep(every if self._pool_shown else None)
            if len(pool.instances()) == 1 and not self._pool_shown and not self.engine.hosts:
                continue  # the foreground alone: the list stays hidden
            infos, hosts = await describe_all(pool, self.engine.idle)
            budget = await asyncio.to_thread(memory_budget, pool, infos)
            self.post_message(PoolDescribed(infos, budget, hosts))
            await asyncio.sleep(self.refresh_seconds)  # a burst of events: one description

    @work(group="switch", exit_on_error=False)
    async def request_switch(self, target: str | None, restart: bool = False) -> None:
        """Ask the pool to switch the foreground; the same call POST /switch and the CLI make."""
        try:
            outcome = await self.engine.pool.switch(target, restart=restart)
        except (AdmissionRefused, SwitchError) as exc:
            self.post_message(PoolRefused("Not switched", str(exc)))
            return
        self.post_message(SwitchFinished(outcome))

    @work(group="start", exit_on_error=False)
    async def start_alongside(self, target: str) -> None:
        """Start ``target`` beside what runs (``a`` in the picker)."""
        try:
            outcome = await self.engine.pool.start(target)
        except (AdmissionRefused, SwitchError) as exc:
            self.post_message(PoolRefused("Not started", str(exc)))
            return
        finally:
            self.pool_changed()  # measured at its load: the list shows it measured
        self.post_message(SwitchFinished(outcome))

    @work(group="stop", exit_on_error=False)
    async def stop_instance(self, target: str, restart: bool = False) -> None:
        """Stop (or restart) the instance running ``target`` beside the foreground one."""
        try:
            if restart:
                outcomes = [await self.engine.pool.restart(target)]
            else:
                outcomes = await self.engine.pool.stop(target)
        except (AdmissionRefused, SwitchError) as exc:
            self.post_message(PoolRefused("Not restarted" if restart else "Not stopped", str(exc)))
            return
        finally:
            self.pool_changed()
        for outcome in outcomes:
            self.post_message(SwitchFinished(outcome))
