"""The set of collectors a dashboard polls, built for an engine (keeps docker out of the UI)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from llamadash.collectors.container import ContainerCollector
from llamadash.collectors.gpu import GpuCollector
from llamadash.collectors.pids import pids_of_container
from llamadash.collectors.server import ServerCollector
from llamadash.collectors.system import SystemCollector

if TYPE_CHECKING:
    from llamadash.core.context import Engine


@dataclass
class Collectors:
    """One collector per pane; ``container`` is None for the process runtime."""

    gpu: GpuCollector
    system: SystemCollector
    container: ContainerCollector | None
    server: ServerCollector

    def close(self) -> None:
        """Release the synchronous collectors (the server collector closes asynchronously)."""
        self.gpu.close()
        if self.container is not None:
            self.container.close()


def collectors_for(engine: Engine) -> Collectors:
    """Collectors watching ``engine``'s server."""
    from llamadash.core.runtime.compose import ComposeRuntime

    runtime = engine.runtime

    def server_pids() -> set[int]:
        cached = engine.switcher.cached_observation
        if cached is None or not cached.pid:
            return set()
        return pids_of_container(cached.pid)

    container = None
    if isinstance(runtime, ComposeRuntime):
        container = ContainerCollector(runtime.client, runtime.project_name)
    server = ServerCollector(engine.switcher.endpoint, starts=lambda: engine.switcher.server_starts)
    engine.switcher.on_stop(server.drop_connections)
    return Collectors(
        gpu=GpuCollector(server_pids=server_pids),
        system=SystemCollector(),
        container=container,
        server=server,
    )
