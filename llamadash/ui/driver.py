"""Textual's Linux driver, reading keys without waking ten times a second while none come.

Textual's input thread waits for stdin with a 0.1 s timeout, forever: it needs ticks to turn
a lone ESC into a key (an escape sequence may follow) and to notice that the app is exiting.
An idle dashboard then spent ~0.15% of a core on those wake-ups, a sixth of its whole idle
cost (bench/bench_ui_cpu.py). This driver keeps the 0.1 s ticks for a few seconds after any
input, where they matter, waits up to a second otherwise, and its exit event also writes to a
pipe the thread waits on, so quitting is as quick as before.

``run_input_thread`` is Textual 8.2.8's (MIT licence; textual is pinned in pyproject.toml) with
the timeout and the wake-up pipe added. tests/ui/test_driver.py runs it on a pipe (keys, a lone
ESC after a quiet spell, a prompt exit); tests/ui/test_tmux_e2e.py counts its wake-ups in a
real terminal.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import threading
import time
from codecs import getincrementaldecoder
from typing import Any

from textual._loop import loop_last
from textual._parser import ParseError
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

__all__ = ["ACTIVE_POLL_S", "IDLE_POLL_S", "QuietLinuxDriver"]

# Textual's tick: lone-ESC and escape-sequence timeouts are resolved on these ticks.
ACTIVE_POLL_S = 0.1
# For this long after the last input byte, tick at ACTIVE_POLL_S (an ESC is always input).
ACTIVE_FOR_S = 3.0
# Otherwise wake this often; exit does not wait for it (the wake-up pipe).
IDLE_POLL_S = 1.0


class _WakingEvent(threading.Event):
    """An Event that also makes a pipe readable when set, so a select() wakes for it."""

    def __init__(self) -> None:
        super().__init__()
        self.fd, self._write_fd = os.pipe()
        os.set_blocking(self.fd, False)
        os.set_blocking(self._write_fd, False)

    def set(self) -> None:
        super().set()
        with contextlib.suppress(OSError):  # full (already readable) or closed
            os.write(self._write_fd, b"x")

    def drain(self) -> None:
        """Empty the pipe (the input thread, once woken)."""
        with contextlib.suppress(OSError):
            while os.read(self.fd, 64):
                pass

    def close(self) -> None:
        for fd in (self.fd, self._write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


class QuietLinuxDriver(LinuxDriver):
    """LinuxDriver whose input thread sleeps while no key comes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.exit_event: _WakingEvent = _WakingEvent()

    def close(self) -> None:
        """Textual's cleanup, then the wake-up pipe."""
        super().close()
        self.exit_event.close()

    def run_input_thread(self) -> None:
        """Wait for input and dispatch events (Textual's loop, with an adaptive timeout)."""
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        wake = self.exit_event
        selector.register(wake.fd, selectors.EVENT_READ)

        fileno = self.fileno
        event_read = selectors.EVENT_READ

        parser = XTermParser(self._debug)
        feed = parser.feed
        tick = parser.tick

        decode = getincrementaldecoder("utf-8")().decode
        read = os.read
        last_input = time.monotonic()

        def process_selector_events(
            selector_events: list[tuple[selectors.SelectorKey, int]], final: bool = False
        ) -> None:
            nonlocal last_input
            for last, (selector_key, mask) in loop_last(selector_events):
                if selector_key.fd == wake.fd:  # exit_event was set
                    wake.drain()
                    continue
                if mask & event_read:
                    last_input = time.monotonic()
                    unicode_data = decode(read(fileno, 1024 * 4), final=final and last)
                    if not unicode_data:
                        # This can occur if the stdin is piped
                        break
                    for event in feed(unicode_data):
                        self.process_message(event)
            for event in tick():
                self.process_message(event)

        def timeout() -> float:
            quiet = time.monotonic() - last_input > ACTIVE_FOR_S
            return IDLE_POLL_S if quiet else ACTIVE_POLL_S

        try:
            while not self.exit_event.is_set():
                process_selector_events(selector.select(timeout()))
            selector.unregister(self.fileno)
            process_selector_events(selector.select(ACTIVE_POLL_S), final=True)

        finally:
            selector.close()
            try:
                for _event in feed(""):
                    pass
            except (EOFError, ParseError):
                pass
