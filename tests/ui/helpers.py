"""Small helpers shared by the dashboard tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.pilot import Pilot


async def wait_until(
    pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 30.0, what: str = ""
) -> None:
    """Pause the pilot in 50 ms steps until ``condition()`` holds (fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or condition}")
        await pilot.pause(0.05)


def screen_text(app: App[Any]) -> str:
    """What the active screen draws now, one line per row (toasts and modals included)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())
