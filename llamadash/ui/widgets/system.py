"""System pane: CPU total and per core, RAM, swap, load average, disk and network rates."""

from __future__ import annotations

from textual.content import Content

from llamadash.collectors.system import SystemSnapshot
from llamadash.ui.format import MUTED, NA, OK, bar, pct, rate, row, size
from llamadash.ui.widgets.rows import RowsPane

# One bar per core, never blank: an idle core still shows as "▁".
_SPARK = "▁▂▃▄▅▆▇█"
_WIDTHS = (5, 20)


class SystemPane(RowsPane):
    """Renders SystemSnapshot."""

    def on_mount(self) -> None:
        self.border_title = "System"
        self.set_rows([Content.styled("waiting for the first sample…", MUTED)])

    def show(self, snap: SystemSnapshot) -> None:
        """Draw ``snap``."""
        cpu = snap.cpu_pct / 100 if snap.cpu_pct is not None else None
        cores = "".join(_SPARK[min(7, int(c / 12.5))] for c in snap.per_core) or NA
        ram = snap.ram_used / snap.ram_total if snap.ram_total else None
        swap = snap.swap_used / snap.swap_total if snap.swap_total else None
        load = " ".join(f"{v:.2f}" for v in snap.load_avg) if snap.load_avg else NA
        rows: list[tuple[str, str | Content, str]] = [
            ("cpu", bar(cpu), pct(snap.cpu_pct)),
            ("cores", Content.styled(cores, OK), f"{len(snap.per_core)} cores"),
            ("ram", bar(ram), f"{size(snap.ram_used)} / {size(snap.ram_total)}"),
            ("swap", bar(swap), f"{size(snap.swap_used)} / {size(snap.swap_total)}"),
            ("load", load, ""),
            ("disk", f"r {rate(snap.disk_read_bps)}", f"w {rate(snap.disk_write_bps)}"),
            ("net", f"↓ {rate(snap.net_recv_bps)}", f"↑ {rate(snap.net_sent_bps)}"),
        ]
        self.set_rows([row(cells, _WIDTHS) for cells in rows])
