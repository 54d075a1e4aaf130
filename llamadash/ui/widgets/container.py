"""Container pane: state, health, uptime, restarts, CPU and memory of the server container."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from llamadash.collectors.container import ContainerSnapshot
from llamadash.core.events import Status
from llamadash.ui.format import NA, bar, duration, pct, size
from llamadash.ui.widgets.redraw import redraw

_STATE_STYLE = {"running": "green", "exited": "red", "created": "yellow", "restarting": "yellow"}


class ContainerPane(Static):
    """Renders ContainerSnapshot (compose) or the process runtime's status."""

    def on_mount(self) -> None:
        self.border_title = "Container"
        self.update(Text("waiting for the first sample…", style="dim"))

    def show(self, snap: ContainerSnapshot) -> None:
        """Draw a container snapshot."""
        if self.border_title != "Container":  # show_process() may have drawn the process view
            self.border_title = "Container"
        if not snap.present:
            self.update(
                Text(
                    snap.error or "no llama-server container (nothing started yet)",
                    style="red" if snap.error else "dim",
                )
            )
            return
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=8)
        grid.add_column()
        state = snap.state or NA
        if snap.exit_code is not None:
            state += f" (exit {snap.exit_code})"
        grid.add_row("state", Text(state, style=_STATE_STYLE.get(snap.state or "", "")))
        grid.add_row("health", snap.health or NA)
        grid.add_row("name", f"{snap.name or NA}  {(snap.id or '')[:12]}")
        grid.add_row("uptime", duration(snap.uptime_s))
        grid.add_row("restarts", NA if snap.restarts is None else str(snap.restarts))
        cpu = snap.cpu_pct / 100 if snap.cpu_pct is not None else None
        grid.add_row("cpu", Text.assemble(bar(cpu, 14), f" {pct(snap.cpu_pct)}"))
        mem = snap.mem_used / snap.mem_limit if snap.mem_used and snap.mem_limit else None
        grid.add_row("memory", Text.assemble(bar(mem, 14), f" {size(snap.mem_used)}"))
        grid.add_row("image", snap.image or NA)
        redraw(self, grid)

    def show_process(self, status: Status) -> None:
        """Draw the process runtime's view (no container)."""
        if self.border_title != "Process":  # assigning the title repaints, even the same one
            self.border_title = "Process"
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=8)
        grid.add_column()
        grid.add_row("runtime", "process (no Docker)")
        grid.add_row(
            "state",
            Text(status.container_state, style=_STATE_STYLE.get(status.container_state, "")),
        )
        grid.add_row("pid", status.container or NA)
        grid.add_row("uptime", duration(status.uptime))
        if status.exit_code is not None:
            grid.add_row("exit", str(status.exit_code))
        redraw(self, grid)
