"""What the dashboard's parts share: the attributes LlamaDash's ``__init__`` sets.

:class:`~llamadash.ui.app.LlamaDash` is built from this base, its workers (ui/workers.py),
its pane updates (ui/updates.py) and its keys (ui/actions.py); each part reads and writes
only what is declared here (and the App's own API).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from llamadash.collectors.bundle import Collectors
from llamadash.core.context import Engine
from llamadash.core.instance import Instance
from llamadash.ui.widgets.container import ContainerPane
from llamadash.ui.widgets.gpu import GpuPane
from llamadash.ui.widgets.server import ServerPane
from llamadash.ui.widgets.system import SystemPane

if TYPE_CHECKING:
    from textual.app import App

    _AppBase = App[None]
else:
    # A plain class at run time: Textual sees LlamaDash's own bases as before, and the App
    # comes last in them. The type checker sees the App's API here.
    _AppBase = object

Pane = GpuPane | SystemPane | ContainerPane | ServerPane


class SideApi(Protocol):
    """What the app needs of the side API server: start and stop on the app's loop."""

    @property
    def url(self) -> str: ...

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class DashState(_AppBase):
    """The dashboard's state, declared once for all its parts."""

    engine: Engine
    switcher: Instance
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

    @property
    def closing(self) -> bool:
        """Shutdown began: the panes may already be removed, so late samples are dropped.

        (Under ``run_test`` the shutdown runs while the message loop still dispatches.)
        """
        return not self.is_running
