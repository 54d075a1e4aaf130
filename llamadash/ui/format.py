"""Small text helpers shared by the panes: bars, aligned rows, sizes, rates, durations, "n/a".

Panes are built as Textual ``Content`` (one line per row, no wrapping) rather than Rich tables:
a pane redraws every second, and a Rich ``Table`` cost ~7 ms to build and render where the same
lines as ``Content`` cost ~0.5 ms. Colours are theme variables, so the panes follow the theme.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from textual.content import Content

NA = "n/a"
Cell = str | Content

# Theme variables (resolved when drawn): the panes follow the app's theme.
OK = "$success"
WARN = "$warning"
BAD = "$error"
MUTED = "$text-muted"
ACCENT = "$text-primary"
_TRACK = "$foreground 25%"


def bar(fraction: float | None, width: int = 20, warn: float = 0.75, hot: float = 0.9) -> Content:
    """A horizontal bar; green, yellow past ``warn``, red past ``hot``; dim when unknown."""
    if fraction is None:
        return Content.styled("·" * width, MUTED)
    fraction = min(max(fraction, 0.0), 1.0)
    filled = round(fraction * width)
    style = BAD if fraction >= hot else WARN if fraction >= warn else OK
    return Content.assemble(("█" * filled, style), ("░" * (width - filled), _TRACK))


def styled(text: str, style: str) -> Content:
    """``text`` in ``style`` (a theme variable or a style string)."""
    return Content.styled(text, style)


def row(cells: Sequence[Cell], widths: Sequence[int]) -> Content:
    """One line: each cell padded to its width (the last one as it is), one space apart."""
    parts: list[Content] = []
    for index, cell in enumerate(cells):
        content = cell if isinstance(cell, Content) else Content(cell)
        if index < len(widths) and index < len(cells) - 1:
            content = content.pad_right(max(0, widths[index] - content.cell_length))
        parts.append(content)
    return Content(" ").join(parts)


def lines(rows: Iterable[Content]) -> Content:
    """Rows joined into one multi-line Content."""
    return Content("\n").join(rows)


def size(value: float | None) -> str:
    """Bytes in binary units (1.5 GiB)."""
    if value is None:
        return NA
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
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


def duration(seconds: float | None) -> str:
    """1h02m, 3m05s, 12s."""
    if seconds is None:
        return NA
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
