"""A sleep that another coroutine on the same loop can end early.

The dashboard's polling workers sleep a refresh period between samples; when the user selects
another instance they should sample it at once. ``asyncio.wait_for(event.wait(), t)`` does
that but wraps each wait in a task and cancels it on every timeout (several loop iterations a
second per worker); this costs what ``asyncio.sleep`` costs: one future and one timer.
"""

from __future__ import annotations

import asyncio

__all__ = ["Nap"]


class Nap:
    """``sleep(seconds)`` until the time passes or :meth:`wake` is called (loop thread only).

    A wake while nobody sleeps is kept: the next ``sleep`` returns at once, so a change that
    arrives while the worker is busy is not lost.
    """

    def __init__(self) -> None:
        self._waiter: asyncio.Future[None] | None = None
        self._pending = False

    async def sleep(self, seconds: float | None) -> None:
        """Sleep ``seconds`` (None: until woken)."""
        if self._pending:
            self._pending = False
            return
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        handle = None if seconds is None else loop.call_later(seconds, _resolve, waiter)
        try:
            await waiter
        finally:
            if handle is not None:
                handle.cancel()
            self._waiter = None

    def wake(self) -> None:
        """End the current sleep now, or the next one as soon as it begins."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        else:  # nobody sleeps, or the sleep just ended and its sleeper has not resumed yet
            self._pending = True


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
