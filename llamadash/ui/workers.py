"""The dashboard's workers: all its I/O, each posting immutable snapshots as messages."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from textual import work
from textual.worker import get_current_worker

from llamadash.ui.messages import (
    ContainerSampled,
    GpuSampled,
    ServerSampled,
    StatusObserved,
    SwitchFinished,
    SystemSampled,
)
from llamadash.ui.state import DashState

# With a container collector watching docker events (which trigger a look at once), status is
# re-observed at least this often: each look costs two docker API calls.
STATUS_RECHECK_REFRESHES = 30


class Workers(DashState):
    """Named workers that sample the collectors, observe status and ask the engine."""

    @work(group="engine", exit_on_error=False)
    async def adopt(self) -> None:
        """Look at what already runs (from an earlier session or started by hand).

        The pool adopts the foreground server and those an earlier llamadash started beside
        it; the foreground one is not watched (the dashboard looks on its own refresh).
        """
        await self.engine.pool.adopt(watch=False)
        self.engine.idle.start()  # activity, ttl and eviction order of every instance
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
        """Docker stats (streamed by the collector), once per refresh period."""
        collector = self.collectors.container  # type: ignore[union-attr]
        self._poll_thread(lambda: ContainerSampled(collector.collect()))  # type: ignore[union-attr]

    def _poll_thread(self, sample: Any, final: Any = None) -> None:
        """Post ``sample()`` once per refresh until cancelled, or until ``final(message)``."""
        worker = get_current_worker()
        while not worker.is_cancelled:
            began = time.monotonic()
            message = sample()
            if worker.is_cancelled:
                return
            self.post_message(message)
            if final is not None and final(message):
                return
            time.sleep(max(0.05, self.refresh_seconds - (time.monotonic() - began)))

    @work(exclusive=True, group="server", exit_on_error=False)
    async def sample_server(self) -> None:
        """llama-server's /metrics, /slots, /props (async, on the loop)."""
        assert self.collectors is not None
        while True:
            self.post_message(ServerSampled(await self.collectors.server.collect()))
            await asyncio.sleep(self.refresh_seconds)

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

    @work(exclusive=True, group="status-once", exit_on_error=False)
    async def refresh_status(self) -> None:
        """One status now (models.conf was reloaded): the header shows what it means."""
        self.post_message(StatusObserved(await self.switcher.status()))

    @work(group="switch", exit_on_error=False)
    async def request_switch(self, target: str | None, restart: bool = False) -> None:
        """Ask the engine; the same call POST /switch and the CLI make."""
        outcome = await self.switcher.request(target, restart=restart)
        self.post_message(SwitchFinished(outcome))
