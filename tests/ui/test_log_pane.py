"""Log pane behaviour that needs no engine: follow across layout changes, batching, colours."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import RichLog

from llamadash.core.context import build_engine
from llamadash.ui.app import LlamaDash, build_app
from llamadash.ui.messages import GpuSampled, SystemSampled
from llamadash.ui.widgets.logs import LogPane
from tests.ui.helpers import wait_until
from tests.ui.samples import system, two_gpus

CONF = """\
[llamadash]
runtime = process
llama_server = /nonexistent/llama-server
models_dir = {root}/models
state_dir = {root}/state
port = 18081

[tiny]
model = tiny.gguf
"""


def make_app(tmp_path: Path) -> LlamaDash:
    conf = tmp_path / "models.conf"
    conf.write_text(CONF.format(root=tmp_path))
    return build_app(build_engine(conf), refresh=3600)


def at_bottom(view: RichLog) -> bool:
    return view.max_scroll_y > 0 and view.scroll_y == view.max_scroll_y


async def test_follow_keeps_the_tail_in_view_when_the_pane_shrinks(tmp_path: Path) -> None:
    """Lines that fit at start-up must not leave the tail hidden once the panes above grow."""
    app = make_app(tmp_path)
    long = "0.00.004.276 I cmn  common_param: verbosity = 3 " + "x" * 100  # a horizontal bar
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.switcher.logs.extend([f"0.00.{i:03d}.000 I line {i}" for i in range(11)] + [long])
        view = app.query_one("#log", RichLog)
        await wait_until(pilot, lambda: len(view.lines) == 12, 5, "the lines")
        assert view.max_scroll_y == 0  # everything fits while the panes are empty
        app.post_message(GpuSampled(two_gpus()))
        app.post_message(SystemSampled(system()))
        await wait_until(pilot, lambda: at_bottom(view), 5, "the tail in view")
        # Paused: a layout change leaves the position alone.
        await pilot.press("f")
        view.scroll_home(animate=False)
        await pilot.resize_terminal(100, 26)
        await pilot.pause()
        assert view.scroll_y == 0


async def test_a_batch_is_written_once_with_each_lines_colour(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(LogPane)
        view = app.query_one("#log", RichLog)
        writes: list[Any] = []
        original = view.write
        view.write = lambda content, *a, **k: writes.append(content) or original(content, *a, **k)  # type: ignore[method-assign]
        lines = [
            "--- switching to Tiny ---",
            "0.00.001.000 I load_model: loading model",
            "0.00.002.000 W load: special_eos_id is not in special_eog_ids",
            "0.00.003.000 E llama_model_load: error loading model",
            "0.00.004.000 I main: server is listening",
        ]
        app.switcher.logs.extend(lines)
        await wait_until(pilot, lambda: pane.lines_shown == 5, 5, "the batch")
        assert len(writes) == 1
        assert [strip.text.rstrip() for strip in view.lines] == lines
        styles = [str(span.style) for span in writes[0].spans]
        assert styles == ["bold cyan", "yellow", "red"]
        assert pane.last_error_line == 3
