"""A pane of one-line rows that repaints only the rows whose text or colours changed.

The panes redraw once a second, but most rows stay the same from one second to the next (the
labels, a GPU that is absent, a server with no request). A ``Static`` re-renders every line of
its content on each update and the compositor re-chops the whole area; this widget (Textual's
line API) keeps one rendered strip per row and marks only changed rows dirty, which keeps each
frame small (bench/bench_ui_cpu.py).

When the layout gives the pane fewer lines than it has rows (a small terminal), the bottom
border says how many are cut ("+3 more"), so hidden rows are never a silent loss.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style as RichStyle
from textual.content import Content
from textual.events import Resize
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.style import Style
from textual.visual import Visual
from textual.widget import Widget

__all__ = ["RowsPane"]

_Key = tuple[str, tuple[object, ...]]


def _key(row: Content) -> _Key:
    # Content's == compares text only; the colours are in the spans.
    return row.plain, tuple(row.spans)


class RowsPane(Widget):
    """Rows of ``Content``, one line each (no wrapping; long rows are cut)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._rows: list[Content] = []
        self._keys: list[_Key] = []
        self._strips: dict[int, Strip] = {}
        self._strip_width = -1
        # Span style -> Rich style over this widget's base style (theme variables resolved).
        self._styles: dict[str | Style, RichStyle] = {}
        self._base: Style | None = None
        self._hidden = 0  # rows cut off at the bottom, as last shown in the border subtitle

    @property
    def rows(self) -> tuple[str, ...]:
        """The rows' text (what a reader sees)."""
        return tuple(row.plain for row in self._rows)

    def set_rows(self, rows: Sequence[Content | str]) -> None:
        """Show ``rows``; repaint the ones that differ, re-lay-out only if the count changed."""
        new = [row if isinstance(row, Content) else Content(row) for row in rows]
        keys = [_key(row) for row in new]
        if len(keys) != len(self._keys):
            self._rows, self._keys = new, keys
            self._strips.clear()
            self.refresh(layout=True)
            # After the new layout: a pane already squeezed keeps its size, so no Resize comes.
            self.call_after_refresh(self._show_hidden)
            return
        width = self.size.width
        for y, key in enumerate(keys):
            if key != self._keys[y]:
                self._strips.pop(y, None)
                self.refresh(Region(0, y, width, 1))
        self._rows, self._keys = new, keys

    def on_resize(self, _event: Resize) -> None:
        """The layout changed the pane's height: the number of cut rows may have changed."""
        self._show_hidden()

    def _show_hidden(self) -> None:
        """Say "+N more" in the bottom border while N rows do not fit; only on a change."""
        height = self.size.height
        if not height:  # not laid out yet (or squeezed to nothing): nothing to say
            return
        hidden = max(0, len(self._rows) - height)
        if hidden != self._hidden:  # assigning the subtitle repaints the border
            self._hidden = hidden
            self.border_subtitle = f"+{hidden} more" if hidden else None

    def notify_style_update(self) -> None:
        """A theme or CSS change: colours of the kept strips may be stale."""
        self._strips.clear()
        self._styles.clear()
        self._base = None
        super().notify_style_update()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """As many lines as rows."""
        return max(1, len(self._rows))

    def get_content_width(self, container: Size, viewport: Size) -> int:
        """The widest row."""
        return max((row.cell_length for row in self._rows), default=0)

    def render_line(self, y: int) -> Strip:
        """Row ``y``, rendered once per change (or width change) and then reused."""
        width = self.size.width
        if width != self._strip_width:
            self._strips.clear()
            self._strip_width = width
        if y >= len(self._rows):
            return Strip.blank(width, self.rich_style)
        strip = self._strips.get(y)
        if strip is None:
            strip = self._strips[y] = self._render_row(self._rows[y], width)
        return strip

    def _render_row(self, row: Content, width: int) -> Strip:
        """One row as a strip ``width`` cells wide, cut with "…" when longer.

        Rows are runs of text with at most one style each (bars, labels, values), so this
        maps spans to segments with styles resolved once per widget; Textual's general
        renderer re-resolved and re-combined every style on every call, at ~0.4 ms a row.
        """
        if self._base is None:
            self._base = self.visual_style
        base = self._base.rich_style
        text, segments, end = row.plain, [], 0
        for span in sorted(row.spans, key=lambda span: span.start):
            if span.start < end:  # overlapping styles: let Textual combine them
                rendered = Visual.to_strips(self, row, width, 1, self._base)
                return rendered[0].crop_extend(0, width, base) if rendered else Strip.blank(width)
            if span.start > end:
                segments.append(Segment(text[end : span.start], base))
            segments.append(Segment(text[span.start : span.end], self._rich(span.style)))
            end = span.end
        if end < len(text):
            segments.append(Segment(text[end:], base))
        strip = Strip(segments, row.cell_length)
        if strip.cell_length > width > 0:
            return Strip([*strip.crop(0, width - 1), Segment("…", base)], width)
        return strip.crop_extend(0, width, base)

    def _rich(self, style: str | Style) -> RichStyle:
        cached = self._styles.get(style)
        if cached is None:
            parsed = style if isinstance(style, Style) else self.app.stylesheet.parse_style(style)
            assert self._base is not None
            cached = self._styles[style] = (self._base + parsed).rich_style
        return cached
