"""Samples and engine events turned into pane updates and toasts, and logs into the log pane.

Samples are kept per pane and painted together once per refresh.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from llamadash.core.events import Result, State
from llamadash.ui.messages import (
    ContainerSampled,
    EngineChanged,
    GpuSampled,
    ServerSampled,
    StatusObserved,
    SwitchFinished,
    SystemSampled,
)
from llamadash.ui.state import DashState, Pane
from llamadash.ui.widgets.container import ContainerPane
from llamadash.ui.widgets.gpu import GpuPane
from llamadash.ui.widgets.header import StatusLine
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
