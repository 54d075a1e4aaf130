"""Panes drawn from fixed samples, read back as the rows a user sees (no engine needed)."""

from __future__ import annotations

from dataclasses import replace

from textual.app import App, ComposeResult
from textual.widgets import Static

from llamadash.ui.widgets.container import ContainerPane
from llamadash.ui.widgets.gpu import GpuPane
from llamadash.ui.widgets.server import ServerPane
from llamadash.ui.widgets.system import SystemPane
from tests.ui import samples

Pane = ContainerPane | GpuPane | ServerPane | SystemPane


class Panes(App[None]):
    CSS_PATH = "../../llamadash/ui/app.tcss"

    def compose(self) -> ComposeResult:
        for pane in (ContainerPane, GpuPane, ServerPane, SystemPane):
            yield pane(classes="pane")


def rows(pane: Static) -> list[str]:
    """The pane's content rows as text (border and padding excluded)."""
    region = pane.content_region.reset_offset.translate(pane.content_offset)
    strips = pane.render_lines(region)
    return [strip.text.rstrip() for strip in strips]


def row_starting(pane: Static, label: str) -> str:
    found = [r for r in rows(pane) if r.startswith(label)]
    assert found, rows(pane)
    return found[0]


async def test_container_cpu_bar_is_of_all_its_cpus() -> None:
    # Regression: 312% (Docker counts 100% per core) drew a full red bar on a 16-CPU host.
    async with Panes().run_test(size=(100, 40)) as pilot:
        pane = pilot.app.query_one(ContainerPane)
        pane.show(samples.container())
        await pilot.pause()
        cpu = row_starting(pane, "cpu")
        assert "312% of 16 CPUs" in cpu
        assert cpu.count("█") == round(312 / 1600 * 14), cpu
        pane.show(replace(samples.container(), cpus=None))  # engine without the figure
        await pilot.pause()
        assert "of" not in row_starting(pane, "cpu")


async def test_pane_columns_line_up() -> None:
    async with Panes().run_test(size=(100, 40)) as pilot:
        pane = pilot.app.query_one(SystemPane)
        pane.show(samples.system())
        await pilot.pause()
        cpu, cores = row_starting(pane, "cpu"), row_starting(pane, "cores")
        assert cpu.index("24%") == cores.index("12 cores")
        gpu = pilot.app.query_one(GpuPane)
        gpu.show(samples.two_gpus())
        await pilot.pause()
        server_row = row_starting(gpu, "▶48211")
        desktop_row = row_starting(gpu, " 2240")
        assert server_row.index("17.4 GiB") == desktop_row.index("412.0 MiB")


async def test_pane_height_follows_its_rows_without_wrapping() -> None:
    async with Panes().run_test(size=(60, 40)) as pilot:
        pane = pilot.app.query_one(ServerPane)
        pane.show(samples.server())
        await pilot.pause()
        shown = rows(pane)
        assert len(shown) == pane.content_region.height == 8  # 7 rows and the slots line
        assert shown[-1].startswith("slots:")
