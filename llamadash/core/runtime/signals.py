"""The stop escalation every runtime uses: TERM, TERM again 0.2 s later, KILL after the grace.

llama-server may ignore the first SIGTERM while it is generating (it logs "cleaning up before
exit..." and waits); a second signal ends it in milliseconds, so the second TERM comes early
and SIGKILL stays the last resort.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

SECOND_TERM_AFTER = 0.2


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
) -> str:
    """Stop a process with escalating signals.

    Args:
        send: delivers a signal by name ("SIGTERM", "SIGKILL").
        alive: whether the process still runs.
        grace: seconds after the second SIGTERM before SIGKILL.
        wait_exit: blocks until the process exits or the given seconds pass, returning
            whether it exited (e.g. the engine's wait call); polls ``alive`` without it.

    Returns:
        The last signal that was needed.
    """

    def exited_within(seconds: float) -> bool:
        if wait_exit is not None:
            return wait_exit(seconds) or not alive()
        return wait_until(lambda: not alive(), seconds)

    send(signal.SIGTERM.name)
    if exited_within(SECOND_TERM_AFTER):
        return signal.SIGTERM.name
    send(signal.SIGTERM.name)
    if exited_within(grace):
        return "SIGTERM x2"
    send(signal.SIGKILL.name)
    exited_within(10.0)
    return signal.SIGKILL.name
