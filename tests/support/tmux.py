"""A private tmux server driving a real terminal for end-to-end tests of the CLI and dashboard.

A private server (``-S``) so the session gets the test's environment (DOCKER_HOST) and never
touches the user's tmux.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


class Tmux:
    """A private tmux server with one session."""

    def __init__(self, name: str, socket_path: Path) -> None:
        self.socket = socket_path  # -S in the test's tmp dir: nothing left behind in /tmp/tmux-*
        self.session = name

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        # An explicit env: the process environment can hold COLUMNS=80/LINES=24 (set by a
        # plugin with putenv, invisible in os.environ), which the tmux server would hand to the
        # dashboard, and Textual would then draw 80x24 in the 160x48 window.
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX")}
        return subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            capture_output=True,
            text=True,
            timeout=20,
            check=check,
            env=env,
        )

    def capture(self, history: bool = False) -> str:
        start = ("-S", "-") if history else ()
        return self.run("capture-pane", "-p", *start, "-t", self.session, check=False).stdout

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.session, *keys)

    def wait_for(
        self, condition: Callable[[str], bool], timeout: float, what: str, history: bool = False
    ) -> str:
        """Poll the screen (and the scrollback with ``history``) until ``condition`` holds."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture(history)
            if condition(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(
            f"timed out after {timeout:.0f}s waiting for {what}; screen:\n{screen}"
        )

    def kill(self) -> None:
        self.run("kill-server", check=False)
