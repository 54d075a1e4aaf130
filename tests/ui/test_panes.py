"""Panes drawn from fixed samples, read back as the rows a user sees (no engine needed)."""

from __future__ import annotations

from dataclasses import replace

from textual.app import App, ComposeResult
from textual.containers import Grid
from textual.pilot import Pilot
from textual.widgets import Static

from llamadash.collectors.gpu import GpuSnapshot
from llamadash.collectors.slots import SlotInfo
from llamadash.ui.modals.picker import fit
from llamadash.ui.widgets.container import ContainerPane
from llamadash.ui.widgets.gpu import GpuPane
from llamadash.ui.widgets.rows import RowsPane
from llamadash.ui.widgets.server import ServerPane
from llamadash.ui.widgets.system import SystemPane
from tests.ui import samples

Pane = ContainerPane | GpuPane | ServerPane | SystemPane


class Panes(App[None]):
    CSS_PATH = "../../llamadash/ui/app.tcss"

    def compose(self) -> ComposeResult:
        for pane in (ContainerPane, GpuPane, ServerPane, SystemPane):
            yield pane(classes="pane")


class GridPanes(App[None]):
    """The dashboard's layout: the 2x2 grid of panes above the logs (LlamaDash.compose)."""

    CSS_PATH = "../../llamadash/ui/app.tcss"

    def compose(self) -> ComposeResult:
        with Grid(id="panes"):
            yield GpuPane(classes="pane")
            yield SystemPane(classes="pane")
            yield ContainerPane(classes="pane")
            yield ServerPane(classes="pane")
        yield Static("logs", id="logs", classes="pane")


def gpus(count: int) -> GpuSnapshot:
    """``count`` GPUs (copies of the two samples): 4 rows each on average."""
    two = samples.two_gpus()
    return replace(two, gpus=(two.gpus * count)[:count])


def cut(pane: RowsPane) -> int:
    """Rows the pane has but cannot show (its content region is shorter)."""
    return max(0, len(pane.rows) - pane.content_region.height)


def more(pane: RowsPane) -> str | None:
    """The pane's bottom-border subtitle as text (None when there is none)."""
    return None if pane.border_subtitle is None else str(pane.border_subtitle)


async def show_all(pilot: Pilot[None], gpu_count: int) -> None:
    app = pilot.app
    app.query_one(GpuPane).show(gpus(gpu_count))
    app.query_one(SystemPane).show(samples.system())
    app.query_one(ContainerPane).show(samples.container())
    app.query_one(ServerPane).show(samples.server())
    await pilot.pause()
    await pilot.pause()  # the subtitle follows the layout (call_after_refresh)


def rows(pane: RowsPane) -> list[str]:
    """The pane's rows as drawn on screen (border and padding excluded)."""
    return [pane.render_line(y).text.rstrip() for y in range(pane.content_region.height)]


def row_starting(pane: RowsPane, label: str) -> str:
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


async def test_idle_figures_are_drawn_not_left_blank_or_na() -> None:
    # Regressions seen in a real run: an idle server's 0.0 t/s gauge showed as "n/a" (0.0 was
    # taken for "no figure"), and idle cores drew blank spaces (the lowest spark level).
    async with Panes().run_test(size=(100, 40)) as pilot:
        server, system = pilot.app.query_one(ServerPane), pilot.app.query_one(SystemPane)
        server.show(replace(samples.server(), gen_tps=0.0, live_gen_tps=None))
        system.show(replace(samples.system(), per_core=(0.0, 3.0, 12.4, 12.5, 99.0, 100.0)))
        await pilot.pause()
        assert row_starting(server, "generate").split()[1:] == ["0.0", "t/s"]
        assert row_starting(system, "cores").split()[1] == "▁▁▁▂██"
        server.show(replace(samples.server(), gen_tps=0.0, live_gen_tps=42.0))
        await pilot.pause()
        assert "42.0 t/s" in row_starting(server, "generate")  # /metrics lags a running one


async def test_kv_row_falls_back_to_the_context_running_requests_fill() -> None:
    # Current llama-server builds dropped the kv_cache_* metrics: the row read n/a for good.
    busy = (
        SlotInfo(0, True, 1000, n_prompt_tokens=300, n_decoded=70),
        SlotInfo(1, True, 1000, n_prompt_tokens=100, n_decoded=10),
        SlotInfo(2, False, 1000),
    )
    async with Panes().run_test(size=(100, 40)) as pilot:
        pane = pilot.app.query_one(ServerPane)
        pane.show(samples.server())  # the metric when there is one
        await pilot.pause()
        assert row_starting(pane, "kv cache").endswith(" 18%")
        pane.show(replace(samples.server(), kv_usage_pct=None, slots=busy))
        await pilot.pause()
        assert row_starting(pane, "ctx used").endswith("37% (slot 0)")  # the fullest slot
        pane.show(replace(samples.server(), kv_usage_pct=None, slots=busy[2:]))
        await pilot.pause()
        assert row_starting(pane, "ctx used").endswith(" idle")
        pane.show(replace(samples.server(), kv_usage_pct=None, slots=None))
        await pilot.pause()
        assert row_starting(pane, "ctx used").endswith(" n/a")


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
        assert server_row.index("17.4 GiB") == desktop_row.index("412 MiB")


async def test_pane_height_follows_its_rows_without_wrapping() -> None:
    async with Panes().run_test(size=(40, 40)) as pilot:
        pane = pilot.app.query_one(ServerPane)
        pane.show(samples.server())
        await pilot.pause()
        shown = rows(pane)
        assert len(shown) == pane.content_region.height == 8  # 7 rows and the slots line
        assert shown[-1].startswith("slots:")
        assert len(pane.rows[6]) > pane.content_region.width  # the model row is cut, not wrapped
        assert shown[6].endswith("…")


async def test_only_changed_rows_are_repainted() -> None:
    async with Panes().run_test(size=(100, 40)) as pilot:
        pane = pilot.app.query_one(ContainerPane)
        pane.show(samples.container())
        await pilot.pause()
        before = rows(pane)
        pane.show(replace(samples.container(), cpu_pct=50.0))
        dirty = pane._repaint_regions  # widget coordinates: padding and border included
        assert [(r.y - pane.content_offset.y, r.height) for r in dirty] == [(5, 1)]  # cpu row
        await pilot.pause()
        after = rows(pane)
        assert [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b] == [5]
        assert "50% of 16 CPUs" in after[5]


async def test_small_terminal_cuts_no_pane_silently() -> None:
    # Regression: at 100x30 the grid (max 60%) cut the bottom panes with their border, and
    # nothing said rows were missing.
    async with GridPanes().run_test(size=(100, 30)) as pilot:
        await show_all(pilot, 2)
        grid = pilot.app.query_one("#panes").region
        panes = list(pilot.app.query(RowsPane))
        for pane in panes:
            assert grid.contains_region(pane.region), (pane, pane.region, grid)  # border too
            hidden = cut(pane)
            assert more(pane) == (f"+{hidden} more" if hidden else None), pane
        # The top row is capped at 30vh, so both rows lose about as much (gpu, system,
        # container, server); each says so.
        assert [cut(pane) for pane in panes] == [1, 0, 1, 1]
        await pilot.resize_terminal(100, 50)
        await pilot.pause()
        assert [(cut(pane), more(pane)) for pane in panes] == [(0, None)] * 4


async def test_more_follows_row_count_and_size() -> None:
    async with GridPanes().run_test(size=(100, 30)) as pilot:
        await show_all(pilot, 4)
        pane = pilot.app.query_one(GpuPane)
        height = pane.content_region.height
        assert height < len(pane.rows)  # the top row is capped (30vh)
        assert more(pane) == f"+{len(pane.rows) - height} more"
        # More rows at the same (capped) height: no Resize, the count still follows.
        pane.show(gpus(8))
        await pilot.pause()
        await pilot.pause()
        assert pane.content_region.height == height
        assert more(pane) == f"+{len(pane.rows) - height} more"
        pane.show(samples.no_gpu())  # 3 rows: they fit
        await pilot.pause()
        await pilot.pause()
        assert more(pane) is None and cut(pane) == 0
        pane.show(gpus(4))
        await pilot.pause()
        await pilot.pause()
        assert more(pane) == f"+{cut(pane)} more" and cut(pane) > 0


async def test_server_pane_says_how_to_turn_metrics_on() -> None:
    async with Panes().run_test(size=(120, 40)) as pilot:
        pane = pilot.app.query_one(ServerPane)
        off = replace(samples.server(), requests_processing=None, requests_deferred=None)
        pane.show(off)
        await pilot.pause()
        assert "add --metrics" in row_starting(pane, "requests")
        pane.show(samples.server())
        await pilot.pause()
        assert row_starting(pane, "requests").endswith("1 running, 0 waiting")


def test_picker_rows_mark_what_they_cut() -> None:
    assert fit("Gemma", 8) == "Gemma   "
    assert fit("GLM-4.5-Air 106B-A12B (IQ4_XS, experts on CPU)", 20) == "GLM-4.5-Air 106B-A1…"
    assert len(fit("x" * 50, 40)) == 40


async def test_the_server_pane_shows_the_proxy_traffic_once_there_is_some() -> None:
    from llamadash.core.demand_stats import DemandStats

    stats = DemandStats()
    for waited in (0.002, 0.004, 2.5):
        stats.answered("tiny", 200, waited=waited, first_byte=0.01, tokens=(5, 4))
    async with Panes().run_test(size=(100, 40)) as pilot:
        pane = pilot.app.query_one(ServerPane)
        pane.show(samples.server())
        await pilot.pause()
        assert not [r for r in rows(pane) if r.startswith("via /v1")]
        pane.show(replace(samples.server(), proxy=stats.summary("tiny")))
        await pilot.pause()
        assert row_starting(pane, "via /v1").split()[2:] == [
            "3",
            "req/min,",
            "wait",
            "p50",
            "4",
            "ms",
        ]
