"""What the switcher publishes: states, events, outcomes and the Status snapshot."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum, StrEnum
from typing import Any

from llamadash.core.hostnames import DEFAULT_HOST
from llamadash.core.progress import Progress


def json_ready(value: Any) -> Any:
    """A dataclass as plain dicts and lists (enums as their values), without deep copies.

    ``dataclasses.asdict`` deep-copies every tuple of strings; GET /status is polled by many
    clients and asdict was a quarter of its CPU (the log tail alone is 50 lines).
    """
    if isinstance(value, str | int | float | bool) or value is None:
        return value.value if isinstance(value, Enum) else value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [item if isinstance(item, str) else json_ready(item) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {name: json_ready(getattr(value, name)) for name in _field_names(type(value))}
    return value


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


class State(StrEnum):
    """The server's lifecycle as llamadash sees it."""

    IDLE = "idle"
    STOPPING = "stopping"
    STARTING = "starting"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


BUSY_STATES = frozenset({State.STOPPING, State.STARTING, State.LOADING})


@dataclass(frozen=True)
class SwitchEvent:
    """One state change or progress update, with a wall-clock timestamp."""

    state: State
    profile_id: str | None
    profile_name: str
    at: float
    message: str = ""
    progress: Progress | None = None
    error: str | None = None
    exit_code: int | None = None
    log_tail: tuple[str, ...] = ()
    warning: str = ""
    """Something the user should know about this switch, e.g. "flags not checked: …"."""
    instance: str | None = None
    """The instance it is about: the profile id it runs or ran (its id in /instances)."""
    foreground: bool = True
    """From the foreground instance (the one `switch` replaces), else one alongside it."""
    cache_restored: int = 0
    """Prompt-cache tokens restored before this Ready (core/kv_cache.py)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data: dict[str, Any] = json_ready(self)
        return data


class Result(StrEnum):
    """How one switch request ended, from the caller's point of view."""

    READY = "ready"
    FAILED = "failed"
    SUPERSEDED = "superseded"
    STOPPED = "stopped"


@dataclass(frozen=True)
class SwitchOutcome:
    """The answer every caller of ``Instance.request`` gets."""

    result: Result
    profile_id: str | None
    message: str
    seconds: float = 0.0
    restarted: bool = True
    log_tail: tuple[str, ...] = ()
    superseded_by: str | None = None

    @property
    def ok(self) -> bool:
        """Ready or stopped as asked."""
        return self.result in (Result.READY, Result.STOPPED)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data: dict[str, Any] = json_ready(self)
        return data


@dataclass(frozen=True)
class InstanceInfo:
    """One instance of the pool as ``ps``, ``/instances`` and the dashboard's list show it."""

    id: str
    """Its profile id (a profile runs in at most one instance)."""
    profile_name: str
    state: State
    foreground: bool
    """The instance ``switch`` replaces (port ``port``, compose project ``llamadash``)."""
    port: int
    endpoint: str
    runtime: str
    ident: str
    """Container id or PID ('' when nothing runs)."""
    pid: int | None
    uptime: float | None
    since: float
    """When its state last changed (unix time)."""
    pinned: bool
    ttl: float
    """Idle seconds before it is stopped (0: never)."""
    ttl_left: float | None
    memory: int | None
    """Bytes it holds (None: not known yet)."""
    memory_measured: bool
    """Measured at its load (RSS, buffers) rather than estimated from the GGUF."""
    last_used: float
    log_path: str
    error: str | None = None
    health_ms: float | None = None
    """How long its /health took (``ps`` asks; the list pane does not)."""
    build: str = ""
    """The llama-server build it runs (/props), when asked."""
    host: str = DEFAULT_HOST
    """The host (``[host NAME]``, else ``local``) whose engine runs it."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data: dict[str, Any] = json_ready(self)
        return data


@dataclass(frozen=True)
class HostInfo:
    """One ``[host NAME]`` as its last look found it (the ``local`` host is not listed)."""

    name: str
    docker_host: str
    address: str
    """Where its servers are reached (the proxy's upstream host)."""
    reachable: bool
    error: str | None
    """Why it is unreachable (None when it answered)."""
    checked_at: float
    """When it was looked at (unix time)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data: dict[str, Any] = json_ready(self)
        return data


@dataclass(frozen=True)
class Status:
    """The truth about the server right now, computed from observation."""

    state: State
    profile_id: str | None
    profile_name: str
    since: float
    runtime: str
    endpoint: str
    container: str = ""
    container_state: str = "absent"
    uptime: float | None = None
    args: tuple[str, ...] = ()
    last_error: str | None = None
    exit_code: int | None = None
    note: str = ""
    progress: Progress | None = None
    managed: bool = True
    queued: str | None = None
    switching_to: str | None = None
    """The profile the running switch is heading for (also during preflight)."""
    log_tail: tuple[str, ...] = field(default=())
    warning: str = ""
    """What the user should know about the shown server's switch ("flags not checked: …")."""
    config_error: str | None = None
    """models.conf cannot be read (``file:line: …``): the last good profiles stay in use."""
    settings_changed: tuple[str, ...] = ()
    """``[llamadash]`` settings edited since start: they apply when llamadash restarts."""
    restart_to_apply: bool = False
    """The running profile's arguments in models.conf changed; a restart applies them."""
    cache_restored: int = 0
    """Prompt-cache tokens the shown server got back from its last run before it was ready."""
    instances: tuple[InstanceInfo, ...] = ()
    """Every instance running or failed, the foreground one first (core/pool.py)."""
    hosts: tuple[HostInfo, ...] = ()
    """The other Docker hosts (``[host NAME]``) and whether they answered (core/hosts.py)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data: dict[str, Any] = json_ready(self)
        return data
