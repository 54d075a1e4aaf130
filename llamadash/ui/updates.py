"""Samples and engine events turned into pane updates and toasts, and logs into the log pane.

Samples are kept per pane and painted together once per refresh.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from llamadash.core.events import Result, State, SwitchEvent
from llamadash.ui.messages import (
    ContainerSampled,
    EngineChanged,
    GpuSampled,
    PoolRefused,
    ServerSampled,
    StatusObserved,
    SwitchFinished,
    SystemSampled,
)
from llamadash.ui.state import DashState, Pane
from llamadash.ui.widgets.container import ContainerPane
from llamadash.ui.widgets.gpu import GpuPane
from llamadash.ui.widgets.header import StatusLine
from llamadash.ui.widgets.instances import InstancesPane
from llamadash.ui.widgets.logs import LogPane
from llamadash.ui.widgets.server import ServerPane
from llamadash.ui.widgets.system import SystemPane

# Logs reach the pane in batches at most 4 times a second, 0.25 s after the first new line:
# fast enough to read as live, and a flood costs one redraw per batch. Nothing runs while the
# log is quiet (the LogHub wakes the app).
LOG_DRAIN_SECONDS = 0.25


class PaneUpdates(DashState):
    """Message handlers that keep the newest snapshot per pane, paint them, drain the logs."""

    def _drain_soon(self) -> None:
        """New log lines: fetch them in one batch LOG_DRAIN_SECONDS from now."""
        if not self.closing:
            self.set_timer(LOG_DRAIN_SECONDS, self.drain_logs)

    def drain_logs(self) -> None:
        """Move new log lines into the pane (one batch per tick, whatever the flood)."""
        if self.closing:
            return
        self.log_seq, lines = self.followed.logs.since(self.log_seq)
        if lines:
            self.query_one(LogPane).add_lines(lines)

    # --- messages -------------------------------------------------------------------------
    def on_gpu_sampled(self, message: GpuSampled) -> None:
        self._show(GpuPane, message.snapshot)

    def on_system_sampled(self, message: SystemSampled) -> None:
        self._show(SystemPane, message.snapshot)

    def _followed(self, port: int | None) -> bool:
        """A sample of the followed instance (None: sent for whichever is followed)."""
        return port is None or port == self.followed.settings.port

    def on_container_sampled(self, message: ContainerSampled) -> None:
        if not self._followed(message.port):
            return  # taken just before another instance was selected
        snap = message.snapshot
        seen = (snap.id, snap.state, snap.health)
        if self._container_seen is not None and seen != self._container_seen:
            self._container_changed = True  # e.g. stopped outside llamadash: status looks soon
            self.pool_changed()
            self.followed.forget_observation()  # and looks afresh, not at the cached look
        self._container_seen = seen
        self._show(ContainerPane, snap)

    def on_server_sampled(self, message: ServerSampled) -> None:
        snap = message.snapshot
        if self._pool_shown and message.port is not None and not self.closing:
            # /metrics lags a running request; /slots does not (as the server pane shows it).
            rate = snap.gen_tps
            if not rate and snap.live_gen_tps is not None:
                rate = snap.live_gen_tps
            self.query_one(InstancesPane).set_rate(message.port, rate)
        if self._followed(message.port):
            profile_id = self.followed.profile_id
            traffic = self.engine.router.traffic.summary(profile_id) if profile_id else None
            self._show(ServerPane, replace(snap, proxy=traffic) if traffic else snap)

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
        if self._pool_shown:  # the ttl clocks (no I/O: the idle watch's last looks)
            ttl_left = self.engine.idle.ttl_left
            pool = self.engine.pool.instances()
            self.query_one(InstancesPane).tick({i.settings.port: ttl_left(i) for i in pool})

    def on_engine_changed(self, message: EngineChanged) -> None:
        if self.closing:
            return
        event = message.event
        self.pool_changed()  # the list shows the new state at the next refresh
        if event.foreground:
            self.query_one(StatusLine).apply_event(event)
        if self._about_followed(event):
            if event.state == State.FAILED:
                self.drain_logs()
                self.query_one(LogPane).show_error()
            elif event.state in (State.STOPPING, State.STARTING):
                self.query_one(LogPane).resume_after_error()
        if event.state == State.STARTING and event.warning:
            self.notify(event.warning, title="Note", severity="warning", markup=False)

    def _about_followed(self, event: SwitchEvent) -> bool:
        """The event is the followed instance's (its log pane reacts to a failure)."""
        if event.foreground:
            return self.followed is self.switcher
        return self.followed is not self.switcher and event.instance == self.followed.profile_id

    def on_status_observed(self, message: StatusObserved) -> None:
        if self.closing:
            return
        if message.port is None:
            self.query_one(StatusLine).apply_status(message.status)
        shows = message.port is None and self.followed is self.switcher
        if (shows or message.port == self.followed.settings.port) and (
            self.collectors is None or self.collectors.container is None
        ):
            self._last_shown.pop(ContainerPane, None)
            self.query_one(ContainerPane).show_process(message.status)

    def on_pool_refused(self, message: PoolRefused) -> None:
        """Admission (or a wrong profile, no free port) said no: the reason, never a traceback."""
        self.notify(message.reason, title=message.title, severity="error", timeout=15)

    def on_switch_finished(self, message: SwitchFinished) -> None:
        outcome = message.outcome
        if outcome.result == Result.FAILED:
            self.notify(outcome.message, title="Switch failed", severity="error", timeout=10)
        elif outcome.result == Result.SUPERSEDED:
            self.notify(outcome.message, title="Superseded", severity="warning")
        elif outcome.result == Result.READY and not outcome.restarted:
            self.notify(f"{outcome.profile_id} is already running", title="No restart needed")
