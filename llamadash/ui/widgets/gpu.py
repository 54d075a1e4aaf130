"""GPU pane: per GPU utilisation, VRAM bar, temperature, power; processes with their VRAM."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from llamadash.collectors.gpu import GpuInfo, GpuSnapshot
from llamadash.ui.format import NA, bar, num, pct, size
from llamadash.ui.widgets.redraw import redraw


class GpuPane(Static):
    """Renders GpuSnapshot; says plainly when there is no NVIDIA GPU."""

    def on_mount(self) -> None:
        self.border_title = "GPU"
        self.update(Text("waiting for the first sample…", style="dim"))

    def show(self, snapshot: GpuSnapshot) -> None:
        """Draw ``snapshot``."""
        if not snapshot.available:
            reason = snapshot.reason or "No NVIDIA GPU found"
            hint = "GPU metrics need an NVIDIA driver; everything else works on the CPU."
            self.update(Text.assemble((reason, "bold"), "\n", (hint, "dim")))
            return
        redraw(self, Group(*(render_gpu(gpu) for gpu in snapshot.gpus)))


def render_gpu(gpu: GpuInfo) -> RenderableType:
    """One GPU: header line, bars, then its processes."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=5)
    grid.add_column()
    grid.add_column()
    mem = gpu.mem_used / gpu.mem_total if gpu.mem_used is not None and gpu.mem_total else None
    util = gpu.util_pct / 100 if gpu.util_pct is not None else None
    grid.add_row("util", bar(util), pct(gpu.util_pct))
    grid.add_row("vram", bar(mem), f"{size(gpu.mem_used)} / {size(gpu.mem_total)}")
    power = f"{num(gpu.power_w, 'W', 0)} / {num(gpu.power_limit_w, 'W', 0)}"
    temp_style = "red" if (gpu.temp_c or 0) >= 83 else ""
    title = Text.assemble(
        (f"[{gpu.index}] {gpu.name or NA}", "bold"),
        "  ",
        (f"{num(gpu.temp_c, '°C', 0)}", temp_style),
        f"  {power}",
    )
    procs = Table.grid(padding=(0, 1))
    for proc in gpu.processes:
        style = "bold cyan" if proc.is_server else ""
        mark = "▶" if proc.is_server else " "
        procs.add_row(
            Text(f"{mark}{proc.pid}", style=style),
            Text(proc.name or NA, style=style),
            size(proc.vram_bytes),
        )
    return Group(title, grid, procs)
