"""The panes' text helpers: durations, bars, aligned rows."""

from __future__ import annotations

from textual.content import Span

from llamadash.ui.format import NA, bar, duration, row, size


def test_duration_fine_and_coarse() -> None:
    assert [duration(s) for s in (0, 12, 125, 3725)] == ["0s", "12s", "2m05s", "1h02m"]
    # Coarse: a steady state's clock changes once a minute, so its row is not repainted.
    assert [duration(s, coarse=True) for s in (12, 125, 179, 3725)] == ["12s", "2m", "2m", "1h02m"]
    assert duration(None) == NA
    assert duration(-5) == "0s"


def test_bar_fill_and_colour_thresholds() -> None:
    assert bar(None, 4).plain == "····"
    assert bar(0.5, 10).plain == "█████░░░░░"
    assert bar(7.0, 4).plain == "████"  # clamped
    colours = [bar(f, 10).spans[0].style for f in (0.5, 0.8, 0.95)]
    assert colours == ["$success", "$warning", "$error"]


def test_row_pads_all_but_the_last_cell() -> None:
    line = row(("cpu", bar(0.5, 4), "50%"), (5, 4))
    assert line.plain == "cpu   ██░░ 50%"
    assert line.spans == [Span(6, 8, "$success"), Span(8, 10, "$foreground 25%")]  # shifted
    wide = row(("名前", "x"), (6,))  # padded by cells, not characters
    assert wide.plain == "名前   x" and wide.cell_length == 8
    assert row(("a", "b"), ()).plain == "a b"
    assert size(1536) == "1.5 KiB" and size(None) == NA
    assert size(545.6 * 2**20) == "546 MiB"  # three significant digits: no flicker
    assert size(99.96 * 2**20) == "100 MiB" and size(99.94 * 2**20) == "99.9 MiB"
    assert size(23.5 * 2**30) == "23.5 GiB" and size(1000) == "1000 B"
