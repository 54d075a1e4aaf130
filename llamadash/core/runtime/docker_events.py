"""Watch the engine's container events, so the container is inspected only when it changed.

Inspecting the container every second cost two API calls a second; its state only changes
with an event (create, start, die, health_status…), and uptime is computed locally. The
healthcheck's exec_* events are not watched: they fire every interval and change nothing shown.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping
from typing import Any

__all__ = ["STATE_EVENTS", "EventWatch"]

STATE_EVENTS = (
    "create",
    "start",
    "restart",
    "die",
    "kill",
    "oom",
    "stop",
    "pause",
    "unpause",
    "destroy",
    "rename",
    "update",
    "health_status",
)
_RETRY_S = 1.0
log = logging.getLogger(__name__)


class EventWatch:
    """A daemon thread following ``docker events`` for containers with ``labels``.

    ``take_change()`` says whether anything happened since the last call. It also says yes
    while the stream is down (the engine restarted, the socket broke), so callers then fall
    back to inspecting every time.

    Args:
        client: A docker SDK client.
        labels: ``key=value`` label filters, all of which must match.
    """

    def __init__(self, client: Any, labels: list[str]) -> None:
        self._client = client
        self._filters = {"type": "container", "label": labels, "event": list(STATE_EVENTS)}
        self._changed = threading.Event()
        self._changed.set()  # nothing seen yet: the first collect inspects
        self._live = threading.Event()
        self._stop = threading.Event()
        self._stream: Any = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="docker-events", daemon=True)
        self._thread.start()

    def take_change(self) -> bool:
        """True if the container may have changed since the last call (then resets)."""
        if not self._live.is_set():
            return True
        changed = self._changed.is_set()
        self._changed.clear()
        return changed

    def wait_live(self, timeout: float) -> bool:
        """Wait until the event stream is connected (tests)."""
        return self._live.wait(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                stream = self._client.events(decode=True, filters=self._filters)
                with self._lock:
                    if self._stop.is_set():
                        stream.close()
                        return
                    self._stream = stream
                # Subscribed: an event from now on is seen, so anything earlier must be
                # looked at once (the change flag is set before going live).
                self._changed.set()
                self._live.set()
                for event in stream:
                    if isinstance(event, Mapping):
                        self._changed.set()
            except Exception as exc:  # the engine went away; the caller inspects until it's back
                log.debug("docker events stream ended: %s", exc)
            self._live.clear()
            self._changed.set()
            self._stop.wait(_RETRY_S)

    def stop(self, timeout: float = 2.0) -> None:
        """End the stream and the thread."""
        self._stop.set()
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()
        self._thread.join(timeout)
