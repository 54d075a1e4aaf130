"""The stop escalation every runtime uses: TERM, TERM again, KILL after the grace.

llama-server may ignore the first SIGTERM while it is generating (it logs "cleaning up before
exit..." and waits); a second signal ends it in milliseconds, so for a busy server the second
TERM comes 0.2 s later. An idle server exits on the first in 0.1–0.22 s, and a second TERM that
lands while it exits can hang it until the SIGKILL (3 times in 10, measured): an idle server
gets its second TERM only after a second, as a fallback.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

SECOND_TERM_AFTER = 0.2  # a busy server
IDLE_SECOND_TERM_AFTER = 1.0  # an idle one (it should long be gone)


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes; True if it became true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def escalate_stop(
    send: Callable[[str], None],
    alive: Callable[[], bool],
    grace: float,
    wait_exit: Callable[[float], bool] | None = None,
    busy: bool = True,
) -> str:
    """Stop a process with escalating signals.

    Args:
        send: delivers a signal by name ("SIGTERM", "SIGKILL").
        alive: whether the process still runs.
        grace: seconds after the second SIGTERM before SIGKILL.
        wait_exit: blocks until the process exits or the given seconds pass, returning
            whether it exited (e.g. the engine's wait call); polls ``alive`` without it.
        busy: the server may be generating (or nobody knows): second TERM after 0.2 s.

    Returns:
        The last signal that was needed.
    """

    def exited_within(seconds: float) -> bool:
        if wait_exit is not None:
            return wait_exit(seconds) or not alive()
        return wait_until(lambda: not alive(), seconds)

    send(signal.SIGTERM.name)
    if exited_within(SECOND_TERM_AFTER if busy else IDLE_SECOND_TERM_AFTER):
        return signal.SIGTERM.name
    send(signal.SIGTERM.name)
    if exited_within(grace):
        return "SIGTERM x2"
    send(signal.SIGKILL.name)
    exited_within(10.0)
    return signal.SIGKILL.name
