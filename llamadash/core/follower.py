"""Pump one server's log lines into the LogHub, and remember how far they were read.

A daemon thread per followed server (the runtime's iterator blocks until the server exits).
The read position is kept in the state dir, so a llamadash that attaches later catches up on
what the server wrote while nobody followed it (after ``q``, between runs) instead of skipping
it: the process runtime's position is a byte offset in its log file, compose's the timestamp
of the last line read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from pathlib import Path

from llamadash.core.logs import LogHub
from llamadash.core.progress import ProgressTracker
from llamadash.core.runtime.base import Runtime

SAVE_EVERY = 1.0  # seconds between position saves while lines arrive
FIRST_ATTACH_LINES = 200  # history shown when nothing was read from this server before
OTHER_SERVER_LINES = 1000  # a server started since our last read: its lines, capped


class LogFollower:
    """At most one follower thread at a time, with its read position persisted."""

    def __init__(self, runtime: Runtime, hub: LogHub, cursor_path: Path) -> None:
        self.runtime = runtime
        self.hub = hub
        self.cursor_path = cursor_path
        self._done: asyncio.Future[None] | None = None
        self._ident = ""
        self._read_to = ""  # the position after the last line put in the hub
        self._generation = 0  # bumped by close(): a pump of an older one stops

    @property
    def active(self) -> bool:
        """A follower thread runs (its server has not exited yet)."""
        return self._done is not None and not self._done.done()

    @property
    def ident(self) -> str:
        """The server followed now ('' when none is)."""
        return self._ident if self.active else ""

    def follow(self, ident: str, tracker: ProgressTracker | None = None) -> None:
        """Follow a server llamadash just started: every line from its first."""
        self._start(ident, tracker, tail=None, after=None)

    def attach(self, ident: str) -> None:
        """Follow a server that already ran: from where llamadash last read it."""
        saved = self._read_cursor()
        if saved.get("ident") == ident and saved.get("position"):
            self._start(ident, None, tail=None, after=str(saved["position"]))
        elif self.hub.snapshot():
            # Started after our last read (by hand, or by another llamadash): its own lines.
            self._start(ident, None, tail=OTHER_SERVER_LINES, after=None)
        else:
            self._start(ident, None, tail=FIRST_ATTACH_LINES, after=None)

    def _start(
        self, ident: str, tracker: ProgressTracker | None, tail: int | None, after: str | None
    ) -> None:
        if not ident or (self._ident == ident and self.active):
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        generation = self._generation

        def pump() -> None:
            last_save = time.monotonic()
            try:
                for line in self.runtime.follow_logs(ident, tail, after):
                    if generation != self._generation:
                        return  # closed: this line is the next llamadash's to read
                    if tracker is not None:
                        tracker.feed(line)
                    self.hub.extend((line,))
                    self._read_to = self.runtime.log_position(ident)
                    now = time.monotonic()
                    if now - last_save >= SAVE_EVERY:
                        last_save = now
                        self._save(ident, self._read_to)
                self._save(ident, self._read_to)
            finally:
                with contextlib.suppress(RuntimeError):  # loop already closed at exit
                    loop.call_soon_threadsafe(_resolve, done)

        self._ident = ident
        self._read_to = after or ""
        self._done = done
        threading.Thread(target=pump, name=f"llamadash-logs-{ident[:12]}", daemon=True).start()

    async def stop(self, timeout: float = 2.0) -> None:
        """Wait (bounded) for the follower to drain its server's last lines, then forget it."""
        if self._done is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._done), timeout=timeout)
        self._done = None
        self._ident = ""

    def close(self) -> None:
        """Save how far the logs were read, and stop taking lines (the thread ends with them)."""
        self._generation += 1
        if self._ident:
            self._save(self._ident, self._read_to)
        self._done = None  # nothing waits for it any more: a later stop() returns at once
        self._ident = ""

    def _save(self, ident: str, position: str) -> None:
        """Write ``ident``'s read position (best effort: a lost save repeats a few lines)."""
        if not position:
            return
        with contextlib.suppress(OSError):
            self.cursor_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cursor_path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"ident": ident, "position": position}), encoding="utf-8")
            tmp.replace(self.cursor_path)

    def _read_cursor(self) -> dict[str, object]:
        try:
            data = json.loads(self.cursor_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
