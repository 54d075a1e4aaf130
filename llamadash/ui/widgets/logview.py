"""A light scrolling log on Textual's Line API: plain lines in, only the visible rows drawn.

RichLog renders every written line into strips up front; under a 1,000 lines/s flood that
was most of the dashboard's CPU. Here a line costs a tuple on a deque when it arrives and one
Segment when it first scrolls into view.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterable

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.events import Resize
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

# CSI sequences (colours, cursor moves) are dropped whole; other control characters would
# move the terminal's cursor, so they become a visible placeholder.
_CSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean(line: str) -> str:
    """``line`` safe to draw on one row: tabs expanded, escapes and control characters gone."""
    if line.isascii() and line.isprintable():  # the common case, no regex
        return line
    return _CONTROL.sub("\N{REPLACEMENT CHARACTER}", _CSI.sub("", line.expandtabs()))


class LogView(ScrollView, can_focus=True):
    """A bounded, unwrapped log of (text, style) lines that can follow its tail."""

    DEFAULT_CSS = """
    LogView {
        background: $surface;
        color: $foreground;
        overflow-y: scroll;
        &:focus {
            background-tint: $foreground 5%;
        }
    }
    """

    def __init__(self, max_lines: int, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.auto_scroll = True
        """Keep the last line in view as lines arrive and as the view is resized."""
        self._lines: deque[tuple[str, Style, int]] = deque(maxlen=max_lines)  # text, style, cells
        # How many held lines have each width, so the scrollable width also shrinks when the
        # widest line drops off the top (Textual's Log only ever widens).
        self._widths: Counter[int] = Counter()
        self._dropped = 0  # lines ever dropped off the top: cache keys stay absolute
        self._width = 0
        self._styles: dict[str, Style] = {}
        self._cache: LRUCache[tuple[int, int, int], Strip] = LRUCache(1024)
        self._base: Style | None = None  # rich_style, which is slow to compute per row

    @property
    def line_count(self) -> int:
        """Lines held (at most ``max_lines``)."""
        return len(self._lines)

    @property
    def texts(self) -> list[str]:
        """The lines held, as drawn (cleaned), oldest first."""
        return [text for text, _, _ in self._lines]

    def write_lines(self, lines: Iterable[tuple[str, str]]) -> None:
        """Append ``(text, style)`` lines; one refresh for the lot, however many."""
        held, added = len(self._lines), 0
        lines_, widths, full = self._lines, self._widths, self._lines.maxlen
        for raw, style in lines:
            text = clean(raw)
            cells = len(text) if text.isascii() else cell_len(text)
            if len(lines_) == full:
                widths[lines_[0][2]] -= 1  # about to drop off the top
            lines_.append((text, self._style(style), cells))
            widths[cells] += 1
            added += 1
        if not added:
            return
        dropped = held + added - len(self._lines)  # the deque dropped these off the top
        self._dropped += dropped
        width = self._widest()
        resized, self._width = width != self._width, width
        self._resize_virtual(Size(width, len(self._lines)), resized)
        if self.auto_scroll:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
            if resized:  # a horizontal scrollbar may appear and cover the last row
                self.scroll_end(animate=False, x_axis=False)
        elif dropped:
            # The lines the reader is looking at moved up by `dropped` rows: follow them.
            y = max(0, round(self.scroll_y) - dropped)
            self.scroll_to(y=y, animate=False, immediate=True)
        self.refresh()

    def _widest(self) -> int:
        """The widest held line (dropping widths no line has any more)."""
        for gone in [w for w, n in self._widths.items() if n <= 0]:
            del self._widths[gone]
        return max(self._widths, default=0)

    def _resize_virtual(self, size: Size, resized: bool) -> None:
        if resized or not self.container_size:
            # A horizontal scrollbar may come or go: that needs a layout.
            self.virtual_size = size
        elif size != self.virtual_size:
            # Only the height changed, which moves nothing else on screen: skip the
            # screen-wide layout the reactive would ask for and update just the scrollbars.
            self.set_reactive(LogView.virtual_size, size)
            self._scroll_update(size)

    def clear(self) -> None:
        """Drop every line."""
        self._dropped += len(self._lines)
        self._lines.clear()
        self._widths.clear()
        self._width = 0
        self._cache.clear()
        self.virtual_size = Size(0, 0)
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = Style.parse(name) if name else Style()
        return style

    def on_resize(self, _event: Resize) -> None:
        # The panes above grow with their first samples and the terminal may shrink; a
        # follow view must not be left showing older lines then.
        if self.auto_scroll:
            self.scroll_end(animate=False, x_axis=False)

    def notify_style_update(self) -> None:
        """The base style (focus tint, theme) changed: cached strips carry the old one."""
        super().notify_style_update()
        self._cache.clear()
        self._base = None

    def render_line(self, y: int) -> Strip:
        """Row ``y`` of the view: the line under it, cropped to the visible columns."""
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        base = self._base
        if base is None:
            base = self._base = self.rich_style
        if index >= len(self._lines):
            return Strip.blank(width, base)
        key = (index + self._dropped, scroll_x, width)
        strip = self._cache.get(key)
        if strip is None:
            text, style, _cells = self._lines[index]
            strip = Strip([Segment(text, base + style)]).crop_extend(
                scroll_x, scroll_x + width, base
            )
            self._cache[key] = strip
        return strip
