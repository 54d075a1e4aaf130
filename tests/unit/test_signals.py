"""Stop escalation on real processes, with a blocking wait (as the compose runtime does)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from llamadash.core.runtime.signals import escalate_stop

IGNORES_TERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"


def stop(proc: subprocess.Popen[bytes], grace: float) -> tuple[str, float]:
    def wait_exit(seconds: float) -> bool:
        try:
            proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

    began = time.monotonic()
    last = escalate_stop(
        send=lambda name: os.kill(proc.pid, signal.Signals[name]),
        alive=lambda: proc.poll() is None,
        grace=grace,
        wait_exit=wait_exit,
    )
    return last, time.monotonic() - began


def test_a_process_that_obeys_stops_on_the_first_term_at_once() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    time.sleep(0.2)
    last, took = stop(proc, grace=3.0)
    assert last == "SIGTERM"
    assert took < 0.2  # the wait returned on exit, not after the 0.2 s of the second TERM
    assert proc.returncode == -signal.SIGTERM


def test_a_process_that_ignores_term_is_killed_after_the_grace() -> None:
    proc = subprocess.Popen([sys.executable, "-c", IGNORES_TERM])
    time.sleep(0.3)  # let it install the handler
    last, took = stop(proc, grace=0.5)
    assert last == "SIGKILL"
    assert 0.6 <= took < 3.0  # 0.2 s, then the 0.5 s grace, then the kill
    assert proc.returncode == -signal.SIGKILL
