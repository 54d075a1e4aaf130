"""The dashboard app: panes fed by named workers, the picker, and the keys.

Built by :func:`build_app` from an Engine (and optionally the side API and collectors), so tests
run the same constructor against the real test-bed engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from dataclasses import replace
from typing import Any, Protocol

from textual import constants as textual_constants
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.driver import Driver
from textual.notifications import SeverityLevel
from textual.worker import Worker, WorkerState, get_current_worker

from llamadash.collectors.bundle import Collectors
from llamadash.core.context import Engine
from llamadash.core.events import BUSY_STATES, Result, State, SwitchEvent
from llamadash.core.reload import ConfigHealth
from llamadash.ui.messages import (
    ConfigReloaded,
    ContainerSampled,
    EngineChanged,
    GpuSampled,
    ServerSampled,
    StatusObserved,
    SwitchFinished,
    SystemSampled,
)
from llamadash.ui.modals.picker import ModelPicker
from llamadash.ui.screens.help import HelpScreen
from llamadash.ui.widgets.container import ContainerPane
from llamadash.ui.widgets.footer import KeysFooter
from llamadash.ui.widgets.gpu import GpuPane
from llamadash.ui.widgets.header import StatusLine
from llamadash.ui.widgets.logs import LogPane
from llamadash.ui.widgets.server import ServerPane
from llamadash.ui.widgets.system import SystemPane

Pane = GpuPane | SystemPane | ContainerPane | ServerPane


# Logs reach the pane in batches at most 4 times a second, 0.25 s after the first new line:
# fast enough to read as live, and a flood costs one redraw per batch. Nothing runs while the
# log is quiet (the LogHub wakes the app).
LOG_DRAIN_SECONDS = 0.25
# With a container collector watching docker events (which trigger a look at once), status is
# re-observed at least this often: each look costs two docker API calls.
STATUS_RECHECK_REFRESHES = 30


class SideApi(Protocol):
    """What the app needs of the side API server: start and stop on the app's loop."""

    @property
    def url(self) -> str: ...

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class LlamaDash(App[None]):
    """Full-screen dashboard for one llama-server."""

    CSS_PATH = "app.tcss"
    TITLE = "llamadash"
    BINDINGS = [
        Binding("m", "pick", "Models"),
        Binding("s", "stop_server", "Stop"),
        Binding("r", "restart", "Restart"),
        Binding("l", "focus_logs", "Logs"),
        Binding("f", "toggle_follow", "Follow"),
        Binding("slash", "filter_logs", "Filter"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit_keep", "Quit"),
        Binding("Q", "quit_stop", "Stop+Quit", key_display="Q"),
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
        self.collectors = collectors
        self.api = api
        self.refresh_seconds = refresh
        self.log_seq = 0
        self.quit_message = ""
        self._unsubscribe: Any = None
        self._unwatch: Any = None
        self._last_shown: dict[type[Pane], Any] = {}
        self._pending: dict[type[Pane], Any] = {}
        self._container_changed = False
        self._container_seen: tuple[str | None, str | None, str | None] | None = None

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A toast whose text shows exactly as written, whoever asks (``markup`` is ignored).

        Toasts carry profile names and errors, which may hold brackets. Every toast passes
        here (a widget's or screen's ``notify`` calls the app's), and Textual's widgets ask
        for markup by default, so it is turned off here rather than at each call.
        """
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

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
        yield LogPane(self.switcher.logs.snapshot, id="logs", classes="pane")
        yield KeysFooter()

    async def on_mount(self) -> None:
        self._unsubscribe = self.switcher.subscribe(self._on_engine_event)
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()  # Textual's timers need the active app set

        def wake() -> None:  # any thread (the log follower, mostly)
            with contextlib.suppress(RuntimeError):  # the loop closed as the app exited
                loop.call_soon_threadsafe(self._drain_soon, context=context)

        self.switcher.logs.on_new(wake)
        self._unwatch = self.engine.watch.subscribe(self._on_config)
        self.engine.watch.start()
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
        self.switcher.logs.on_new(None)
        self.workers.cancel_all()
        if self.api is not None:
            await self.api.stop()
        if self.collectors is not None:
            self.collectors.close()
            await self.collectors.server.aclose()
        await self.switcher.aclose()

    # --- workers: all I/O, each posting immutable snapshots ------------------------------
    @work(group="engine", exit_on_error=False)
    async def adopt(self) -> None:
        """Look at what already runs (from an earlier session or started by hand)."""
        status = await self.switcher.adopt()
        self.post_message(StatusObserved(status))

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

    @property
    def closing(self) -> bool:
        """Shutdown began: the panes may already be removed, so late samples are dropped.

        (Under ``run_test`` the shutdown runs while the message loop still dispatches.)
        """
        return not self.is_running

    def _drain_soon(self) -> None:
        """New log lines: fetch them in one batch LOG_DRAIN_SECONDS from now."""
        if not self.closing:
            self.set_timer(LOG_DRAIN_SECONDS, self.drain_logs)

    def drain_logs(self) -> None:
        """Move new log lines into the pane (one batch per tick, whatever the flood)."""
        if self.closing:
            return
        self.log_seq, lines = self.switcher.logs.since(self.log_seq)
        if lines:
            self.query_one(LogPane).add_lines(lines)

    # --- messages -------------------------------------------------------------------------
    def on_gpu_sampled(self, message: GpuSampled) -> None:
        self._show(GpuPane, message.snapshot)

    def on_system_sampled(self, message: SystemSampled) -> None:
        self._show(SystemPane, message.snapshot)

    def on_container_sampled(self, message: ContainerSampled) -> None:
        snap = message.snapshot
        seen = (snap.id, snap.state, snap.health)
        if self._container_seen is not None and seen != self._container_seen:
            self._container_changed = True  # e.g. stopped outside llamadash: status looks soon
            self.switcher.forget_observation()  # and looks afresh, not at the cached look
        self._container_seen = seen
        self._show(ContainerPane, snap)

    def on_server_sampled(self, message: ServerSampled) -> None:
        self._show(ServerPane, message.snapshot)

    def _show(self, pane: type[Pane], snapshot: Any) -> None:
        """Keep a sample for the next paint, unless it equals the last one drawn (timestamp aside).

        The first sample of a pane is drawn at once, so the dashboard fills in quickly.
        """
        if self.closing:
            return
        key = replace(snapshot, at=0.0)
        if self._last_shown.get(pane) == key:
            self._pending.pop(pane, None)
            return
        first = pane not in self._last_shown
        self._last_shown[pane] = key
        self._pending[pane] = snapshot
        if first:
            self.paint()

    def paint(self) -> None:
        """Draw the samples that arrived since the last paint and the header's clock.

        Once per refresh period, all in one frame: samples arrive from four workers at
        different moments, and each separate repaint costs a compositor pass and a write to
        the terminal (bench/bench_ui_cpu.py).
        """
        if self.closing:
            return
        pending, self._pending = self._pending, {}
        for pane, snapshot in pending.items():
            self.query_one(pane).show(snapshot)
        self.query_one(StatusLine).refresh_line()

    def on_engine_changed(self, message: EngineChanged) -> None:
        if self.closing:
            return
        self.query_one(StatusLine).apply_event(message.event)
        if message.event.state == State.FAILED:
            self.drain_logs()
            self.query_one(LogPane).show_error()
        elif message.event.state in (State.STOPPING, State.STARTING):
            self.query_one(LogPane).resume_after_error()
        if message.event.state == State.STARTING and message.event.warning:
            self.notify(message.event.warning, title="Note", severity="warning", markup=False)

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

    def on_status_observed(self, message: StatusObserved) -> None:
        if self.closing:
            return
        self.query_one(StatusLine).apply_status(message.status)
        if self.collectors is None or self.collectors.container is None:
            self._last_shown.pop(ContainerPane, None)
            self.query_one(ContainerPane).show_process(message.status)

    def on_switch_finished(self, message: SwitchFinished) -> None:
        outcome = message.outcome
        if outcome.result == Result.FAILED:
            self.notify(outcome.message, title="Switch failed", severity="error", timeout=10)
        elif outcome.result == Result.SUPERSEDED:
            self.notify(outcome.message, title="Superseded", severity="warning")
        elif outcome.result == Result.READY and not outcome.restarted:
            self.notify(f"{outcome.profile_id} is already running", title="No restart needed")

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

    # --- actions --------------------------------------------------------------------------
    def action_pick(self) -> None:
        """Open the model picker."""
        current = self.switcher.last_event.profile_id
        note = ""
        if self.switcher.busy:
            # Before its first event (preflight) or for a stop, the event names no profile yet.
            event = self.switcher.last_event
            if event.state in BUSY_STATES and event.profile_name:
                doing = f"Switching to {event.profile_name} now"
            elif event.state == State.STOPPING:
                doing = "Stopping the server now"
            else:
                doing = "A switch is starting"
            note = f"{doing}: your choice runs next (the latest choice wins)."
        picker = ModelPicker(self.engine.profiles, current, self.engine.settings.models_dir, note)
        self.push_screen(picker, self._picked)

    def _picked(self, profile_id: str | None) -> None:
        if profile_id is None:
            return
        profile = self.switcher.profiles.get(profile_id)
        self.notify(f"Switching to {profile.name if profile else profile_id}…")
        self.request_switch(profile_id)

    def action_stop_server(self) -> None:
        """Stop llama-server (the dashboard keeps running)."""
        self.request_switch(None)

    def action_restart(self) -> None:
        """Restart the current profile."""
        current = self.switcher.last_event.profile_id
        if current is None:
            self.notify("nothing to restart: choose a model with m", severity="warning")
            return
        self.request_switch(current, restart=True)

    def action_focus_logs(self) -> None:
        """Focus the log view for scrolling."""
        self.query_one(LogPane).log_view.focus()

    def action_toggle_follow(self) -> None:
        """Follow the log tail, or stop following."""
        self.query_one(LogPane).toggle_follow()  # the pane's title says which

    def action_filter_logs(self) -> None:
        """Open the log filter."""
        self.query_one(LogPane).open_filter()

    def action_help(self) -> None:
        """Show the keys."""
        api = self.api.url if self.api else "off"
        self.push_screen(HelpScreen(api, str(self.engine.log_path)))

    def action_quit_keep(self) -> None:
        """Quit; the server keeps running."""
        event = self.switcher.last_event
        if event.state in (State.READY, State.LOADING, State.STARTING):
            self.quit_message = (
                f"llama-server keeps running ({event.profile_name}) at"
                f" {self.switcher.endpoint}; stop it with: {self.stop_command}"
            )
        self.exit()

    @work(group="switch", exit_on_error=False)
    async def action_quit_stop(self) -> None:
        """Stop the server, then quit."""
        self.notify("stopping llama-server…")
        await self.switcher.request(None)
        self.quit_message = "llama-server stopped."
        self.exit()


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
