"""Redraw a pane without a screen-wide layout pass when its height stays the same."""

from __future__ import annotations

from rich.console import RenderableType
from textual.widgets import Static


def redraw(pane: Static, renderable: RenderableType) -> None:
    """``pane.update(renderable)``, laying the screen out again only if the height changes.

    A layout pass re-arranges and repaints the whole screen; the panes redraw every second,
    almost always with the same number of lines. Measuring the new content costs one render.
    """
    width = pane.content_region.width
    if not width:  # not laid out yet
        pane.update(renderable)
        return
    console = pane.app.console
    options = console.options.update(width=width, height=None)
    height = len(console.render_lines(renderable, options, pad=False))
    pane.update(renderable, layout=height != pane.content_region.height)
