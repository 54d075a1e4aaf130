"""Redraw a pane without a screen-wide layout pass when its height stays the same."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static


def redraw(pane: Static, content: Content) -> None:
    """``pane.update(content)``, laying the screen out again only if the line count changes.

    A layout pass re-arranges and repaints the whole screen; the panes redraw every second,
    almost always with the same number of lines. Panes do not wrap (``text-wrap: nowrap`` in
    app.tcss), so the height is the line count.
    """
    height = content.plain.count("\n") + 1
    laid_out = bool(pane.content_region.width)
    pane.update(content, layout=not laid_out or height != pane.content_region.height)
