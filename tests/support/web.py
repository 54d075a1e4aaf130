"""A real ``llamadash web`` process for tests: started on a free loopback port, stopped after."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

# What the verb prints once it listens (commands/web.py).
_LISTENING = re.compile(r"llamadash web: open (http://\S+)")


class WebProcess:
    """``llamadash web --port 0`` (the port the kernel picks) with ``args`` on ``conf``.

    Attributes:
        url: the URL it printed (with ``?token=`` when one is set).
        base: the same without the query: ``http://127.0.0.1:PORT``.
    """

    def __init__(self, conf: Path, *args: str, env: dict[str, str] | None = None) -> None:
        command = [sys.executable, "-m", "llamadash", "--models-conf", str(conf), "web"]
        self.process = subprocess.Popen(
            [*command, "--port", "0", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            text=True,
        )
        self.output: list[str] = []
        self.url = self._wait_for_url(timeout=60)
        self.base = self.url.split("/?")[0].rstrip("/")

    def _wait_for_url(self, timeout: float) -> str:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as waiting:
            waiting.register(self.process.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if waiting.select(deadline - time.monotonic()):
                    line = self.process.stdout.readline()
                    if not line:
                        break
                    self.output.append(line)
                    found = _LISTENING.search(line)
                    if found:
                        return found.group(1)
        self.stop()
        raise AssertionError(f"llamadash web printed no URL:\n{''.join(self.output)}")

    def stop(self) -> str:
        """SIGTERM, wait for the exit; returns what it printed after the URL."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            rest, _ = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            rest, _ = self.process.communicate()
        return rest or ""
