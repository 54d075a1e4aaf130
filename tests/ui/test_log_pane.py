"""Log pane behaviour that needs no engine: follow across layout changes, batching, colours."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from textual import events
from textual.pilot import Pilot

from llamadash.core.context import build_engine
from llamadash.ui.app import LlamaDash, build_app
from llamadash.ui.messages import GpuSampled, SystemSampled
from llamadash.ui.widgets.logs import _ERROR, _WARN, MAX_BATCH, MAX_LINES, LogPane, style_of
from llamadash.ui.widgets.logview import LogView, clean
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


def at_bottom(view: LogView) -> bool:
    return view.max_scroll_y > 0 and view.scroll_y == view.max_scroll_y


async def test_follow_keeps_the_tail_in_view_when_the_pane_shrinks(tmp_path: Path) -> None:
    """Lines that fit at start-up must not leave the tail hidden once the panes above grow."""
    app = make_app(tmp_path)
    long = "0.00.004.276 I cmn  common_param: verbosity = 3 " + "x" * 100  # a horizontal bar
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.switcher.logs.extend([f"0.00.{i:03d}.000 I line {i}" for i in range(11)] + [long])
        view = app.query_one("#log", LogView)
        await wait_until(pilot, lambda: view.line_count == 12, 5, "the lines")
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
        view = app.query_one("#log", LogView)
        writes: list[Any] = []
        original = view.write_lines
        view.write_lines = lambda batch: writes.append(list(batch)) or original(writes[-1])  # type: ignore[method-assign]
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
        assert view.texts == lines
        assert [style for _, style in writes[0]] == ["bold cyan", "", "yellow", "red", ""]
        assert pane.last_error_line == 3
        # The colour reaches the drawn row (all lines fit: row y is line y).
        await pilot.pause()
        colours = [first_style(view, y) for y in range(5)]
        plain = view.rich_style.color.name  # the widget's foreground
        assert [c.color.name for c in colours] == ["cyan", plain, "yellow", "red", plain]
        assert colours[0].bold
        assert all(c.bgcolor == view.rich_style.bgcolor for c in colours)
        # A theme change restyles the widget: rows drawn before must not come from the cache.
        dark = view.rich_style.bgcolor
        app.theme = "textual-light"
        await pilot.pause()
        assert first_style(view, 1).bgcolor == view.rich_style.bgcolor != dark


# --- the LogView on its own: a small app, no engine -----------------------------------------
def first_style(view: LogView, y: int) -> Any:
    """Style of the first segment drawn on row ``y`` (the line's own colour)."""
    return next(iter(view.render_line(y))).style


def numbered(start: int, stop: int) -> list[str]:
    return [f"line {i}" for i in range(start, stop)]


async def fill(pilot: Pilot[Any], pane: LogPane, lines: list[str]) -> None:
    """Add ``lines`` as the app does: batches of at most MAX_BATCH."""
    for i in range(0, len(lines), MAX_BATCH):
        pane.add_lines(lines[i : i + MAX_BATCH])
    await pilot.pause()


def top_text(view: LogView) -> str:
    return view.render_line(0).text.rstrip()


async def test_a_full_buffer_drops_the_oldest_lines_under_a_paused_reader(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(LogPane)
        view = pane.log_view
        await fill(pilot, pane, numbered(0, MAX_LINES))
        assert view.line_count == MAX_LINES and at_bottom(view)
        pane.toggle_follow()
        view.scroll_to(y=5000, animate=False)
        await pilot.pause()
        assert top_text(view) == "line 5000"
        await fill(pilot, pane, numbered(MAX_LINES, MAX_LINES + 1500))
        assert view.line_count == MAX_LINES
        assert view.texts[0] == "line 1500"
        # The reader still sees the same line at the top: the offset moved with the drop.
        assert view.scroll_y == 3500
        assert top_text(view) == "line 5000"
        # Scrolled into the dropped range: the view clamps at the oldest line held.
        view.scroll_to(y=100, animate=False)
        await fill(pilot, pane, numbered(MAX_LINES + 1500, MAX_LINES + 1700))
        assert view.scroll_y == 0 and top_text(view) == "line 1700"


async def test_follow_pins_the_tail_across_batches_and_resizes(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(LogPane)
        view = pane.log_view
        for n in range(5):
            await fill(pilot, pane, numbered(n * 40, n * 40 + 40))
            assert at_bottom(view), n
            # Growth without a layout: the scrollbar is told by hand.
            assert view.vertical_scrollbar.window_virtual_size == view.line_count
            assert view.vertical_scrollbar.position == view.scroll_y
        last = view.render_line(view.scrollable_content_region.height - 1).text.rstrip()
        assert last == "line 199"
        # The first line wider than the view brings a horizontal scrollbar: the tail stays.
        await fill(pilot, pane, ["x" * 150])
        assert at_bottom(view) and view.show_horizontal_scrollbar
        for size in ((100, 20), (80, 40), (100, 24)):
            await pilot.resize_terminal(*size)
            await wait_until(pilot, lambda: at_bottom(view), 5, f"the tail at {size}")
        # A wheel up while following scrolls away; the next batch pins the tail again.
        view.post_message(events.MouseScrollUp(view, 5, 5, 0, -1, 0, False, False, False))
        await wait_until(pilot, lambda: not at_bottom(view), 5, "the wheel")
        await fill(pilot, pane, ["line 200"])
        assert at_bottom(view) and pane.follow


async def test_keys_scroll_the_focused_view(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(LogPane)
        view = pane.log_view
        await fill(pilot, pane, numbered(0, 300))
        await pilot.press("l")
        assert view.has_focus
        await pilot.press("home")
        assert view.scroll_y == 0
        await pilot.press("down", "down", "pagedown")
        assert view.scroll_y == 2 + view.scrollable_content_region.height
        await pilot.press("pageup", "up")
        assert view.scroll_y == 1
        await pilot.press("end")
        assert at_bottom(view)


async def test_filter_reloads_matching_lines_and_escape_restores_them(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(LogPane)
        view = pane.log_view
        lines = [*numbered(0, 50), "0.01 I Slot NEEDLE found", *numbered(50, 60), "needle again"]
        app.switcher.logs.extend(lines)
        await wait_until(pilot, lambda: pane.lines_shown == 62, 5, "the lines")
        await pilot.press("slash", *"needle", "enter")
        await wait_until(pilot, lambda: pane.filter_text == "needle", 5, "the filter")
        assert view.texts == ["0.01 I Slot NEEDLE found", "needle again"]
        assert pane.border_title == "Logs · follow · filter: 'needle'"
        app.switcher.logs.extend(["no match", "a needle"])
        await wait_until(pilot, lambda: view.line_count == 3, 5, "the filtered batch")
        await pilot.press("slash", "escape")
        await wait_until(pilot, lambda: pane.filter_text == "", 5, "the filter cleared")
        assert view.texts == [*lines, "no match", "a needle"]
        assert pane.border_title == "Logs · follow"


async def test_show_error_scrolls_to_the_last_error_with_context(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(LogPane)
        view = pane.log_view
        lines = numbered(0, 300)
        lines[60] = "0.00.060.000 E first error"
        lines[120] = "0.00.120.000 E llama_model_load: error loading model"
        await fill(pilot, pane, lines)
        pane.show_error()
        await pilot.pause()
        assert not pane.follow and not view.auto_scroll
        assert pane.border_title == "Logs · paused (f: follow)"
        assert view.scroll_y == 117 and top_text(view) == "line 117"
        assert first_style(view, 3).color.name == "red"
        # After the buffer dropped lines, the error's row is counted from the end.
        await fill(pilot, pane, numbered(300, MAX_LINES + 100))
        pane.show_error()
        await pilot.pause()
        assert view.scroll_y == 17 and view.render_line(3).text.startswith("0.00.120.000 E")
        # Once the error itself is dropped: the end.
        await fill(pilot, pane, numbered(0, 200))
        pane.show_error()
        await pilot.pause()
        assert at_bottom(view)


async def test_a_huge_batch_is_cut_to_max_batch(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(LogPane)
        began = time.perf_counter()
        pane.add_lines(numbered(0, 20_000))
        await pilot.pause()
        assert time.perf_counter() - began < 2.0
        assert pane.lines_shown == pane.log_view.line_count == MAX_BATCH
        assert pane.log_view.texts[-1] == "line 19999" and at_bottom(pane.log_view)


async def test_tabs_escapes_and_wide_characters_keep_one_row_per_line(tmp_path: Path) -> None:
    assert clean("a\tb") == "a       b"
    assert clean("\x1b[31mred\x1b[0m text") == "red text"
    assert clean("bell\x07 cr\r") == "bell\ufffd cr\ufffd"
    app = make_app(tmp_path)
    async with app.run_test(size=(60, 30)) as pilot:
        pane = app.query_one(LogPane)
        view = pane.log_view
        await fill(pilot, pane, ["\tindented", "wide 日本語", "x" * 90])
        assert view.virtual_size.width == 90  # the longest line: scroll sideways to read it
        assert [view.render_line(y).text.rstrip() for y in range(2)] == [
            "        indented",
            "wide 日本語",
        ]
        assert view.render_line(0).cell_length == view.scrollable_content_region.width


def test_style_of_agrees_with_the_regexes_it_shortcuts() -> None:
    lines = [
        "0.01.234.000 I slot update_slots: id  0 | task 1 | n_past = 1234, flood line",
        "0.00.003.000 E llama_model_load: bad", "e lower-case level", "0.1 w lower warn level",
        "E", "12.5 Ex", "an ERROR here", "errors are not error words", "Failed to load",
        "fatalistic", "FATAL: x", "llama-server exited with code 1", "WARNING: slow",
        "warned", "prewarn", "no error\u00e9 but unicode", "unicode \u00e9 failed", "--- x ---",
    ]  # fmt: skip
    for line in lines:
        want = (
            "bold cyan" if line.startswith("--- ")
            else "red" if _ERROR.search(line)
            else "yellow" if _WARN.search(line)
            else ""
        )  # fmt: skip
        assert style_of(line) == want, line


async def test_the_scroll_width_shrinks_when_the_widest_line_drops_off(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(60, 30)) as pilot:
        pane = app.query_one(LogPane)
        view = pane.log_view
        await fill(pilot, pane, ["x" * 300, *numbered(0, 10)])
        assert view.virtual_size.width == 300
        # The 300-cell line drops off the top once MAX_LINES newer lines came.
        await fill(pilot, pane, numbered(10, MAX_LINES))
        assert view.texts[0] == "line 0"
        assert view.virtual_size.width == max(len(t) for t in view.texts) < 60
        assert view.max_scroll_x == 0  # nothing left to scroll sideways to
