"""Small text helpers shared by the panes: bars, aligned rows, sizes, rates, durations, "n/a".

Panes are built as Textual ``Content`` (one line per row, no wrapping) rather than Rich tables:
a pane redraws every second, and a Rich ``Table`` cost ~7 ms to build and render where the same
lines as ``Content`` cost ~0.5 ms. Colours are theme variables, so the panes follow the theme.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from textual.content import Content, Span

NA = "n/a"
Cell = str | Content

# Theme variables (resolved when drawn): the panes follow the app's theme.
OK = "$success"
WARN = "$warning"
BAD = "$error"
MUTED = "$text-muted"
ACCENT = "$text-primary"
_TRACK = "$foreground 25%"


def literal(text: str) -> Content:
    """``text`` shown exactly as written, never read as markup.

    Profile names, ids, paths, errors and log lines may hold brackets ("Evil [/x]"): as
    markup they were eaten ("profile  at") or raised MarkupError and crashed the dashboard.
    Every label, title and Static showing such text takes it through here; toasts through
    ``LlamaDash.notify``.
    """
    return Content(text)


def bar(fraction: float | None, width: int = 20, warn: float = 0.75, hot: float = 0.9) -> Content:
    """A horizontal bar; green, yellow past ``warn``, red past ``hot``; dim when unknown."""
    if fraction is None:
        return Content.styled("·" * width, MUTED)
    fraction = min(max(fraction, 0.0), 1.0)
    filled = round(fraction * width)
    style = BAD if fraction >= hot else WARN if fraction >= warn else OK
    spans = [Span(0, filled, style), Span(filled, width, _TRACK)]
    return Content("█" * filled + "░" * (width - filled), spans, width)


def row(cells: Sequence[Cell], widths: Sequence[int]) -> Content:
    """One line: each cell padded to its width (the last one as it is), one space apart.

    Built as one string and shifted spans: the panes build ~30 rows a second, and
    Content's join and pad (a new Content per step) cost several times as much.
    """
    text: list[str] = []
    spans: list[Span] = []
    cells_done = 0
    offset = 0
    last = len(cells) - 1
    for index, cell in enumerate(cells):
        if index:
            text.append(" ")
            offset += 1
            cells_done += 1
        plain = cell.plain if isinstance(cell, Content) else cell
        if isinstance(cell, Content):
            spans.extend(Span(s.start + offset, s.end + offset, s.style) for s in cell.spans)
        length = cell_len(plain)
        pad = widths[index] - length if index < len(widths) and index < last else 0
        text.append(plain + " " * pad if pad > 0 else plain)
        offset += len(plain) + max(pad, 0)
        cells_done += length + max(pad, 0)
    return Content("".join(text), spans, cells_done)


def size(value: float | None) -> str:
    """Bytes in binary units to three significant digits (1.5 GiB, 23.5 GiB, 546 MiB).

    A fourth digit (545.6 MiB) flickers from one second to the next and tells nobody
    anything; it also repainted the row every second.
    """
    if value is None:
        return NA
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return (
                f"{value:.0f} {unit}"
                if unit == "B" or abs(value) >= 99.95
                else f"{value:.1f} {unit}"
            )
        value /= 1024
    return NA


def rate(value: float | None) -> str:
    """Bytes per second."""
    return NA if value is None else f"{size(value)}/s"


def pct(value: float | None, digits: int = 0) -> str:
    """A percentage or n/a."""
    return NA if value is None else f"{value:.{digits}f}%"


def num(value: float | None, unit: str = "", digits: int = 1) -> str:
    """A number with a unit, or n/a."""
    return NA if value is None else f"{value:.{digits}f}{unit}"


def duration(seconds: float | None, coarse: bool = False) -> str:
    """1h02m, 3m05s, 12s; ``coarse`` drops the seconds past the first minute (3m).

    Coarse is for steady states and uptimes: the text then changes once a minute, not once
    a second, and an unchanged row is not repainted.
    """
    if seconds is None:
        return NA
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m" if coarse else f"{minutes}m{secs:02d}s"
    return f"{secs}s"
