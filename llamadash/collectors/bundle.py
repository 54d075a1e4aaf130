"""The set of collectors a dashboard polls, built for an engine (keeps docker out of the UI).

The server and container collectors follow one instance of the pool (the one selected in the
dashboard's list, the foreground one at first). Each instance keeps its own server collector
(its /props and the endpoints it switched off stay known when it is selected again); only
the followed instance has a container collector, because each one streams ``docker stats``
in a thread of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from llamadash.collectors.container import ContainerCollector
from llamadash.collectors.gpu import GpuCollector
from llamadash.collectors.pids import pids_of_container
from llamadash.collectors.server import ServerCollector
from llamadash.collectors.system import SystemCollector

if TYPE_CHECKING:
    from llamadash.core.context import Engine
    from llamadash.core.instance import Instance

ContainerFor = Callable[["Instance"], ContainerCollector]


class Collectors:
    """One collector per pane; ``container`` is None for the process runtime.

    ``server`` and ``container`` are the followed instance's; :meth:`follow` points them at
    another instance without any I/O (the old container collector is closed later, in the
    container worker's thread, by :meth:`current_container`).
    """

    def __init__(
        self,
        gpu: GpuCollector,
        system: SystemCollector,
        container: ContainerCollector | None,
        server: ServerCollector,
        *,
        followed: Instance | None = None,
        container_for: ContainerFor | None = None,
    ) -> None:
        self.gpu = gpu
        self.system = system
        self.server = server
        self.followed = followed
        # The followed instance's port and container collector, swapped as one reference:
        # the container worker's thread reads them together.
        self._container: tuple[int | None, ContainerCollector] | None = None
        if container is not None:
            self._container = (None if followed is None else followed.settings.port, container)
        self._container_for = container_for
        self._servers: dict[Instance, ServerCollector] = {}
        if followed is not None:
            self._servers[followed] = server
        self._retired: list[ContainerCollector] = []
        self.instances: tuple[Instance, ...] = () if followed is None else (followed,)
        """Every instance of the pool, as last told by :meth:`track` (the GPU pane's PIDs)."""

    def server_of(self, instance: Instance) -> ServerCollector:
        """The server collector of ``instance`` (made on first use, no I/O)."""
        collector = self._servers.get(instance)
        if collector is None:
            collector = ServerCollector(instance.endpoint, starts=lambda: instance.server_starts)
            instance.on_stop(collector.drop_connections)
            self._servers[instance] = collector
        return collector

    def follow(self, instance: Instance) -> None:
        """Point the server and container collectors at ``instance`` (no I/O)."""
        if instance is self.followed:
            return
        self.followed = instance
        self.server = self.server_of(instance)
        if self._container is not None and self._container_for is not None:
            self._retired.append(self._container[1])
            self._container = (instance.settings.port, self._container_for(instance))

    @property
    def container(self) -> ContainerCollector | None:
        """The followed instance's container collector (None: the process runtime)."""
        return None if self._container is None else self._container[1]

    def current_container(self) -> tuple[int | None, ContainerCollector] | None:
        """The followed port and its container collector, after closing the ones not followed.

        Called from the container worker's thread only: closing joins a stats thread, and a
        retired collector can only be in the middle of a ``collect()`` of this same thread.
        """
        while self._retired:
            self._retired.pop().close()
        return self._container

    def track(self, instances: Iterable[Instance]) -> list[ServerCollector]:
        """The pool's instances now; returns the server collectors of those that left it."""
        self.instances = tuple(instances)
        gone = [i for i in self._servers if i not in self.instances and i is not self.followed]
        return [self._servers.pop(i) for i in gone]

    def close(self) -> None:
        """Release the synchronous collectors (the server collector closes asynchronously)."""
        self.gpu.close()
        for retired in self._retired:
            retired.close()
        self._retired.clear()
        if self._container is not None:
            self._container[1].close()

    async def aclose(self) -> None:
        """Close every server collector's connections."""
        for collector in {*self._servers.values(), self.server}:
            await collector.aclose()


def collectors_for(engine: Engine) -> Collectors:
    """Collectors watching ``engine``'s foreground server (follow() moves them)."""
    from llamadash.core.runtime.compose import ComposeRuntime

    foreground = engine.switcher
    made: Collectors | None = None

    def server_pids() -> set[int]:
        pids: set[int] = set()
        for instance in made.instances if made is not None else (foreground,):
            cached = instance.cached_observation
            if cached is not None and cached.pid:
                pids |= pids_of_container(cached.pid)
        return pids

    def container_for(instance: Instance) -> ContainerCollector:
        runtime = instance.runtime
        assert isinstance(runtime, ComposeRuntime)  # the pool's runtimes are of one kind
        return ContainerCollector(runtime.client, runtime.project_name)

    container = None
    if isinstance(engine.runtime, ComposeRuntime):
        container = container_for(foreground)
    server = ServerCollector(foreground.endpoint, starts=lambda: foreground.server_starts)
    foreground.on_stop(server.drop_connections)
    made = Collectors(
        gpu=GpuCollector(server_pids=server_pids),
        system=SystemCollector(),
        container=container,
        server=server,
        followed=foreground,
        container_for=container_for,
    )
    return made
