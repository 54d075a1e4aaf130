"""Small text helpers shared by the panes: bars, sizes, rates, durations, "n/a"."""

from __future__ import annotations

from rich.text import Text

NA = "n/a"


def bar(fraction: float | None, width: int = 20, warn: float = 0.75, hot: float = 0.9) -> Text:
    """A horizontal bar; green, yellow past ``warn``, red past ``hot``; dim when unknown."""
    if fraction is None:
        return Text("·" * width, style="dim")
    fraction = min(max(fraction, 0.0), 1.0)
    filled = round(fraction * width)
    style = "red" if fraction >= hot else "yellow" if fraction >= warn else "green"
    return Text("█" * filled, style=style) + Text("░" * (width - filled), style="grey37")


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
