"""What the dashboard's parts share: the attributes LlamaDash's ``__init__`` sets.

:class:`~llamadash.ui.app.LlamaDash` is built from this base, its workers (ui/workers.py),
its pane updates (ui/updates.py) and its keys (ui/actions.py); each part reads and writes
only what is declared here (and the App's own API).
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from llamadash.collectors.bundle import Collectors
from llamadash.core.context import Engine
from llamadash.core.instance import Instance
from llamadash.ui.nap import Nap
from llamadash.ui.pane_keys import SharedKeys
from llamadash.ui.widgets.container import ContainerPane
from llamadash.ui.widgets.gpu import GpuPane
from llamadash.ui.widgets.server import ServerPane
from llamadash.ui.widgets.system import SystemPane

Pane = GpuPane | SystemPane | ContainerPane | ServerPane


class SideApi(Protocol):
    """What the app needs of the side API server: start and stop on the app's loop."""

    @property
    def url(self) -> str: ...

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class DashState(SharedKeys):
    """The dashboard's state, declared once for all its parts."""

    engine: Engine
    switcher: Instance
    """The foreground instance (the header, ``m``, ``q`` and ``Q`` are about it)."""
    followed: Instance
    """The instance selected in the list: the server, container and log panes show it."""
    collectors: Collectors | None
    api: SideApi | None
    refresh_seconds: float
    stop_command: str
    log_seq: int
    quit_message: str
    _last_shown: dict[type[Pane], Any]  # per pane, the last snapshot drawn (timestamp zeroed)
    _pending: dict[type[Pane], Any]  # per pane, the newest snapshot not yet drawn
    _container_changed: bool  # the container pane saw a change: status looks soon
    _container_seen: tuple[str | None, str | None, str | None] | None
    _log_wake: Any  # the followed LogHub's wake-up call (set in on_mount)
    _pool_shown: bool  # the instances list is on screen (something runs beside the foreground)
    _pool_nap: Nap  # woken when an instance changed: the pool worker describes the list again
    _server_nap: Nap  # woken when the followed instance changed: sample its server now
    _container_wake: threading.Event  # the same for the container worker's thread

    def pool_changed(self) -> None:
        """An instance changed (an event, a start or stop): describe the list again soon."""
        self._pool_nap.wake()

    @property
    def closing(self) -> bool:
        """Shutdown began: the panes may already be removed, so late samples are dropped.

        (Under ``run_test`` the shutdown runs while the message loop still dispatches.)
        """
        return not self.is_running
