"""System pane: CPU total and per core, RAM, swap, load average, disk and network rates."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from llamadash.collectors.system import SystemSnapshot
from llamadash.ui.format import NA, bar, pct, rate, size
from llamadash.ui.widgets.redraw import redraw

_SPARK = " ▁▂▃▄▅▆▇█"


class SystemPane(Static):
    """Renders SystemSnapshot."""

    def on_mount(self) -> None:
        self.border_title = "System"
        self.update(Text("waiting for the first sample…", style="dim"))

    def show(self, snap: SystemSnapshot) -> None:
        """Draw ``snap``."""
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=5)
        grid.add_column()
        grid.add_column()
        cpu = snap.cpu_pct / 100 if snap.cpu_pct is not None else None
        grid.add_row("cpu", bar(cpu), pct(snap.cpu_pct))
        cores = "".join(_SPARK[min(8, round(c / 12.5))] for c in snap.per_core) or NA
        grid.add_row("cores", Text(cores, style="green"), f"{len(snap.per_core)} cores")
        ram = snap.ram_used / snap.ram_total if snap.ram_total else None
        grid.add_row("ram", bar(ram), f"{size(snap.ram_used)} / {size(snap.ram_total)}")
        swap = snap.swap_used / snap.swap_total if snap.swap_total else None
        grid.add_row("swap", bar(swap), f"{size(snap.swap_used)} / {size(snap.swap_total)}")
        load = " ".join(f"{v:.2f}" for v in snap.load_avg) if snap.load_avg else NA
        grid.add_row("load", load, "")
        grid.add_row("disk", f"r {rate(snap.disk_read_bps)}", f"w {rate(snap.disk_write_bps)}")
        grid.add_row("net", f"↓ {rate(snap.net_recv_bps)}", f"↑ {rate(snap.net_sent_bps)}")
        redraw(self, grid)
