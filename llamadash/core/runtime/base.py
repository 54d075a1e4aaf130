"""The Runtime protocol: what the switcher needs from wherever llama-server runs.

Methods block (subprocesses, Docker API calls); the switcher calls them from threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from llamadash.core.profiles import Profile

CLEAN_EXIT_CODES = frozenset({0, 143})
"""A server that exited with one of these stopped as asked (143: SIGTERM while loading)."""

HelpSource = tuple[str, Callable[[], str | None]]
"""A cache key for one llama-server build, and how to get its ``--help`` text."""


class RuntimeFailure(Exception):
    """A runtime operation failed; the message says what to do about it."""


class EngineUnavailableError(RuntimeFailure):
    """The Docker engine (or compose plugin) cannot be reached."""


@dataclass(frozen=True)
class LaunchSpec:
    """Everything needed to start llama-server for one profile."""

    profile: Profile
    models_dir: Path
    port: int
    image: str = ""
    grace: float = 3.0
    kv_dir: Path | None = None
    """Where the server saves and restores slots (``--slot-save-path``); None: it does not."""

    @property
    def model_path(self) -> Path:
        """The GGUF on the host."""
        return self.profile.model_path(self.models_dir)


@dataclass(frozen=True)
class Observation:
    """What is really running, observed now (never remembered)."""

    state: str
    """``absent``, ``created``, ``running``, ``exited`` (or another engine state)."""
    ident: str = ""
    """Container id or PID."""
    exit_code: int | None = None
    started_at: float | None = None
    """Unix time the server started."""
    args: tuple[str, ...] = ()
    """The argument list the server really runs with."""
    profile_id: str = ""
    """The profile recorded when llamadash started it ('' if started some other way)."""
    pid: int | None = None
    """Host PID of the server process, when known."""

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.state == "running"


class Runtime(Protocol):
    """Where llama-server runs: a Compose service or a child process."""

    name: str
    endpoint_host: str
    watch_interval: float
    """Seconds between the owner's checks for changes made outside llamadash (``changed``)."""

    def observe(self) -> Observation:
        """What runs now. Raises EngineUnavailableError if it cannot be known."""
        ...

    def changed(self) -> bool:
        """Whether what runs may have changed since the last call: the watch then looks.

        Called on the event loop: it never blocks (no engine call).
        """
        ...

    def command(self, spec: LaunchSpec) -> tuple[str, ...]:
        """The full llama-server argument list ``start`` would use (for --dry-run and checks)."""
        ...

    def start(self, spec: LaunchSpec) -> Observation:
        """Start llama-server for ``spec``; returns once the process exists."""
        ...

    def stop(self, grace: float, busy: bool = True) -> Observation:
        """Stop the server: SIGTERM, SIGTERM again, SIGKILL after ``grace``.

        The second SIGTERM comes 0.2 s after the first when the server may be ``busy``
        generating, else after a second (core/runtime/signals.py says why).
        """
        ...

    def follow_logs(
        self, ident: str, tail: int | None = None, after: str | None = None
    ) -> Iterator[str]:
        """Yield log lines of ``ident`` until it exits (blocking).

        ``tail`` None starts from the server's first line; N starts with its last N lines;
        ``after`` (a ``log_position``) starts right after the line read last.
        """
        ...

    def log_position(self, ident: str) -> str:
        """Where ``follow_logs`` of ``ident`` has read to ('' before the first line)."""
        ...

    def log_tail(self, ident: str, lines: int) -> list[str]:
        """The last ``lines`` log lines of ``ident`` (empty if unknown)."""
        ...

    def help_source(self, spec: LaunchSpec) -> HelpSource | str:
        """A cache key for the server build ``spec`` would run and a way to get its ``--help``.

        A reason instead when the build cannot be inspected now (e.g. an image not pulled).
        """
        ...

    def close(self) -> None:
        """Release clients (the server itself keeps running)."""
        ...
