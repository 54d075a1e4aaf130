"""The dashboard app: panes fed by named workers, the picker, and the keys.

Built by :func:`build_app` from an Engine (and optionally the side API and collectors), so tests
run the same constructor against the real test-bed engine. The class is assembled from its
parts: state.py (what they share), workers.py (all I/O), updates.py (messages to panes) and
actions.py (the keys).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from typing import Any

from textual import constants as textual_constants
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.driver import Driver
from textual.worker import Worker, WorkerState

from llamadash.collectors.bundle import Collectors
from llamadash.core.context import Engine
from llamadash.core.events import SwitchEvent
from llamadash.core.reload import ConfigHealth
from llamadash.ui.actions import KeyActions
from llamadash.ui.messages import ConfigReloaded, EngineChanged
from llamadash.ui.nap import Nap
from llamadash.ui.pane_keys import INSTANCE_KEYS, LOG_KEYS, SERVER_KEYS
from llamadash.ui.state import SideApi
from llamadash.ui.updates import PaneUpdates
from llamadash.ui.widgets.container import ContainerPane
from llamadash.ui.widgets.footer import KeysFooter
from llamadash.ui.widgets.gpu import GpuPane
from llamadash.ui.widgets.header import StatusLine
from llamadash.ui.widgets.instances import InstancesPane
from llamadash.ui.widgets.logs import LogPane
from llamadash.ui.widgets.server import ServerPane
from llamadash.ui.widgets.system import SystemPane

__all__ = ["LlamaDash", "SideApi", "build_app"]


class LlamaDash(KeyActions, PaneUpdates, App[None]):
    """Full-screen dashboard for the llama-servers of one pool."""

    CSS_PATH = "app.tcss"
    TITLE = "llamadash"
    BINDINGS = [
        *SERVER_KEYS,
        Binding("t", "try_prompt", "Try", show=False),  # these two listed by ``?``
        Binding("B", "bench", "Bench", show=False, key_display="B"),
        *LOG_KEYS,
        Binding("q", "quit_keep", "Quit"),
        Binding("Q", "quit_stop", "Stop+Quit", key_display="Q"),
        *INSTANCE_KEYS,
    ]

    def __init__(
        self,
        engine: Engine,
        collectors: Collectors | None = None,
        api: SideApi | None = None,
        refresh: float = 1.0,
        stop_command: str = "llamadash stop",
    ) -> None:
        super().__init__()
        self.stop_command = stop_command  # as the user can type it here (commands/invocation)
        self.engine = engine
        self.switcher = engine.switcher
        self.followed = engine.switcher
        self.collectors = collectors
        self.api = api
        self.refresh_seconds = refresh
        self.log_seq = 0
        self.quit_message = ""
        self._unsubscribe: Any = None
        self._unwatch: Any = None
        self._last_shown = {}
        self._pending = {}
        self._container_changed = False
        self._container_seen = None
        self._log_wake = None
        self._pool_shown = False
        self._pool_nap = Nap()
        self._server_nap = Nap()
        self._container_wake = threading.Event()

    def get_driver_class(self) -> type[Driver]:
        """Textual's choice, except that its Linux terminal driver is the quiet one.

        A driver named in TEXTUAL_DRIVER is used as it is (so
        ``TEXTUAL_DRIVER=textual.drivers.linux_driver:LinuxDriver`` gets Textual's own).
        """
        chosen = super().get_driver_class()
        if textual_constants.DRIVER is not None or chosen.__name__ != "LinuxDriver":
            return chosen
        from textual.drivers.linux_driver import LinuxDriver  # termios: POSIX only

        from llamadash.ui.driver import QuietLinuxDriver

        return QuietLinuxDriver if chosen is LinuxDriver else chosen

    # --- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        api = self.api.url if self.api else "off"
        yield StatusLine(self.switcher.endpoint, api, id="status")
        with Grid(id="panes"):
            yield GpuPane(id="gpu", classes="pane")
            yield SystemPane(id="system", classes="pane")
            yield ContainerPane(id="container", classes="pane")
            yield ServerPane(id="server", classes="pane")
        yield InstancesPane(id="instances", classes="pane")
        yield LogPane(self.followed_lines, id="logs", classes="pane")
        yield KeysFooter()

    async def on_mount(self) -> None:
        # Every instance's events (each names its instance); the header shows the foreground's.
        self._unsubscribe = self.engine.pool.subscribe(self._on_engine_event)
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()  # Textual's timers need the active app set

        def wake() -> None:  # any thread (the log follower, mostly)
            with contextlib.suppress(RuntimeError):  # the loop closed as the app exited
                loop.call_soon_threadsafe(self._drain_soon, context=context)

        self._log_wake = wake
        self.followed.logs.on_new(wake)
        self._unwatch = self.engine.watch.subscribe(self._on_config)
        self.engine.watch.start()
        self.engine.idle.start()  # activity, ttl and least recently used of every instance
        self.set_interval(self.refresh_seconds, self.paint)
        self.drain_logs()
        if self.api is not None:
            await self.api.start()
        self.adopt()
        if self.collectors is not None:
            self.sample_gpu()
            self.sample_system()
            self.sample_server()
            if self.collectors.container is not None:
                self.sample_container()
        self.observe_status()
        self.watch_pool()

    def _on_engine_event(self, event: SwitchEvent) -> None:
        # Called on the loop by the switcher; a message keeps widget updates in the handlers.
        self.post_message(EngineChanged(event))

    def _on_config(self, health: ConfigHealth) -> None:
        self.post_message(ConfigReloaded(health))

    async def on_unmount(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        if self._unwatch:
            self._unwatch()
        await self.engine.watch.aclose()
        await self.engine.idle.aclose()
        self.followed.logs.on_new(None)
        self.workers.cancel_all()
        if self.api is not None:
            await self.api.stop()
        if self.collectors is not None:
            self.collectors.close()
            await self.collectors.aclose()
        await self.engine.pool.aclose()  # every instance's followers and clients; servers run on

    def on_config_reloaded(self, message: ConfigReloaded) -> None:
        if self.closing:
            return
        if message.health.error:
            self.notify(
                f"{message.health.error}; the previous profiles stay in use",
                title="models.conf not reloaded",
                severity="error",
                timeout=15,
            )
        self.refresh_status()

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """One funnel for every worker error: a visible notice, never a crash."""
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self.notify(
                f"{event.worker.group}: {error}",
                title="Background task failed",
                severity="error",
                timeout=10,
            )


def build_app(
    engine: Engine,
    *,
    collectors: Collectors | None = None,
    api: SideApi | None = None,
    refresh: float = 1.0,
    stop_command: str = "llamadash stop",
) -> LlamaDash:
    """The dashboard for ``engine`` (collectors None: panes stay empty, e.g. for snapshots).

    ``stop_command`` is what the quit message tells the user to run to stop the server.
    """
    return LlamaDash(
        engine, collectors=collectors, api=api, refresh=refresh, stop_command=stop_command
    )
