"""GPU pane: per GPU utilisation, VRAM bar, temperature, power; processes with their VRAM."""

from __future__ import annotations

from textual.content import Content

from llamadash.collectors.gpu import GpuInfo, GpuSnapshot
from llamadash.ui.format import ACCENT, BAD, MUTED, NA, bar, num, pct, row, size
from llamadash.ui.widgets.rows import RowsPane

_WIDTHS = (5, 20)
_PROC_WIDTHS = (8, 24)


class GpuPane(RowsPane):
    """Renders GpuSnapshot; says plainly when there is no NVIDIA GPU."""

    def on_mount(self) -> None:
        self.border_title = "GPU"
        self.set_rows([Content.styled("waiting for the first sample…", MUTED)])

    def show(self, snapshot: GpuSnapshot) -> None:
        """Draw ``snapshot``."""
        if not snapshot.available:
            reason = snapshot.reason or "No NVIDIA GPU found"
            hint = ("GPU metrics need an NVIDIA driver;", "everything else works on the CPU.")
            rows = [Content.styled(reason, "bold"), *(Content.styled(h, MUTED) for h in hint)]
            self.set_rows(rows)
            return
        self.set_rows([line for gpu in snapshot.gpus for line in render_gpu(gpu)])


def render_gpu(gpu: GpuInfo) -> list[Content]:
    """One GPU: a title line, bars, then its processes (the llama-server one marked)."""
    mem = gpu.mem_used / gpu.mem_total if gpu.mem_used is not None and gpu.mem_total else None
    util = gpu.util_pct / 100 if gpu.util_pct is not None else None
    power = f"{num(gpu.power_w, 'W', 0)} / {num(gpu.power_limit_w, 'W', 0)}"
    temp_style = BAD if (gpu.temp_c or 0) >= 83 else ""
    title = Content.assemble(
        (f"[{gpu.index}] {gpu.name or NA}", "bold"),
        "  ",
        (num(gpu.temp_c, "°C", 0), temp_style),
        f"  {power}",
    )
    out = [
        title,
        row(("util", bar(util), pct(gpu.util_pct)), _WIDTHS),
        row(("vram", bar(mem), f"{size(gpu.mem_used)} / {size(gpu.mem_total)}"), _WIDTHS),
    ]
    for proc in gpu.processes:
        style = f"bold {ACCENT}" if proc.is_server else ""
        mark = "▶" if proc.is_server else " "
        cells = (
            Content.styled(f"{mark}{proc.pid}", style),
            Content.styled(proc.name or NA, style),
            size(proc.vram_bytes),
        )
        out.append(row(cells, _PROC_WIDTHS))
    return out
