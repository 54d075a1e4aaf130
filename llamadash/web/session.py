"""One browser session: the dashboard process it drives, exec'd from an argv list.

textual-serve's AppService starts its command with ``create_subprocess_shell`` and hands the
child a copy of the whole environment. Here the command is an argv list (no shell ever parses
a path or profile a user chose) and the child gets ``dashboard_env`` plus the variables
Textual's web driver reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from asyncio.subprocess import PIPE, Process
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

from textual_serve.app_service import AppService

from llamadash.core.runtime.environ import dashboard_env

# What Textual's web driver needs to draw into the page (textual-serve sets the same).
WEB_DRIVER = "textual.drivers.web_driver:WebDriver"
# Seconds a dashboard may take to quit (it stops its watchers, the API, the lock) before SIGKILL.
QUIT_GRACE = 10.0


def dashboard_command(models_conf: Path, api_url: str, *, runtime: str | None = None) -> list[str]:
    """The argv every browser session runs: a dashboard attached to the owner at ``api_url``.

    The one place that says what a session is. Every page attaches to the same owner (``web``
    makes sure one runs), so pages open and close freely and none holds the owner lock.
    ``models_conf`` is made absolute so the child reads the same file (its ``api_token``)
    whatever its working directory.
    """
    return llamadash_command(models_conf, runtime, "attach", api_url)


def llamadash_command(models_conf: Path, runtime: str | None, *verb: str) -> list[str]:
    """``llamadash [--runtime R] VERB…`` on ``models_conf`` (made absolute), by this Python."""
    argv = [sys.executable, "-m", "llamadash", "--models-conf", str(models_conf.resolve())]
    if runtime is not None:
        argv += ["--runtime", runtime]
    return [*argv, *verb]


def session_env(
    width: int, height: int, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a session's dashboard drawing a ``width`` × ``height`` terminal."""
    return {
        **dashboard_env(environ),
        "TEXTUAL_DRIVER": WEB_DRIVER,
        "TEXTUAL_COLOR_SYSTEM": "truecolor",
        "TERM_PROGRAM": "textual",
        "TERM_PROGRAM_VERSION": version("textual-serve"),
        "COLUMNS": str(width),
        "ROWS": str(height),
    }


class DashboardSession(AppService):
    """textual-serve's AppService, starting ``argv`` without a shell and with ``session_env``."""

    def __init__(self, argv: list[str], **service: Any) -> None:
        super().__init__(" ".join(argv), **service)  # the string is only ever logged
        self.argv = argv

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        return session_env(width, height)

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=PIPE,
            stdout=PIPE,
            stderr=PIPE,
            env=self._build_environment(width, height),
            start_new_session=True,  # a Ctrl-C meant for `llamadash web` reaches it alone
        )
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def end(self, grace: float = QUIT_GRACE) -> None:
        """Ask the dashboard to quit and wait for it; SIGKILL after ``grace`` seconds."""
        await self.stop()
        process = self._process
        if process is None or process.returncode is not None:
            return
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
