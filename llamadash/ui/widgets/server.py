"""Server pane: tokens/s, requests, KV cache and slot activity, from llama-server itself."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from llamadash.collectors.server import ServerSnapshot
from llamadash.ui.format import NA, bar, num
from llamadash.ui.widgets.redraw import redraw


class ServerPane(Static):
    """Renders ServerSnapshot; degrades to n/a when an endpoint is off."""

    def on_mount(self) -> None:
        self.border_title = "Server"
        self.update(Text("waiting for the first sample…", style="dim"))

    def show(self, snap: ServerSnapshot) -> None:
        """Draw ``snap``."""
        if not snap.reachable:
            self.update(
                Text(f"llama-server not answering ({snap.error or 'no server'})", style="dim")
            )
            return
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=9)
        grid.add_column()
        gen = snap.gen_tps if snap.gen_tps else snap.live_gen_tps
        grid.add_row(
            "health", Text(str(snap.health), style="green" if snap.health == 200 else "yellow")
        )
        grid.add_row("generate", num(gen, " t/s"))
        grid.add_row("prompt", num(snap.prompt_tps, " t/s"))
        busy = NA if snap.requests_processing is None else str(snap.requests_processing)
        waiting = NA if snap.requests_deferred is None else str(snap.requests_deferred)
        grid.add_row("requests", f"{busy} running, {waiting} waiting")
        kv = snap.kv_usage_pct / 100 if snap.kv_usage_pct is not None else None
        grid.add_row("kv cache", Text.assemble(bar(kv, 14), f" {num(snap.kv_usage_pct, '%', 0)}"))
        grid.add_row("ctx/slot", NA if snap.n_ctx is None else str(snap.n_ctx))
        model = (snap.model_path or NA).rsplit("/", 1)[-1]
        grid.add_row("model", model)
        redraw(self, Group(grid, _slots(snap)))


def _slots(snap: ServerSnapshot) -> Text:
    if snap.slots is None:
        return Text("slots: n/a (/slots off)", style="dim")
    text = Text("slots: ")
    for slot in snap.slots:
        if slot.is_processing:
            done = slot.n_decoded or 0
            text.append(f"[{slot.id}:{done}t] ", style="bold green")
        else:
            text.append(f"[{slot.id}:idle] ", style="dim")
    return text
