"""The messages of ``GET /dashboard``: everything an attached dashboard draws.

msgspec Structs over the collectors' and the engine's own dataclasses, so the attached
dashboard decodes exactly what a local one gets from its collectors.
"""

from __future__ import annotations

from msgspec import Struct

from llamadash.collectors.container import ContainerSnapshot
from llamadash.collectors.gpu import GpuSnapshot
from llamadash.collectors.server import ServerSnapshot
from llamadash.collectors.system import SystemSnapshot
from llamadash.core.events import HostInfo, InstanceInfo, Status

# SSE event names of the stream, in the order a client first sees them.
HELLO = "hello"
SAMPLE = "sample"
LOGS = "logs"
STATE = "state"  # a SwitchEvent, as on GET /events


class DashboardHello(Struct, frozen=True):
    """First message: who answers, and what the stream is about."""

    boot: str
    """Changes when the owner restarts (its log sequence numbers start again)."""
    version: str
    pid: int
    runtime: str
    endpoint: str
    """The foreground server's URL."""
    max_instances: int
    log_path: str
    follow: str | None
    """The instance the server, container and log parts are about (None: the foreground)."""
    stop_command: str
    """What stops the servers from the owner's machine."""


class DashboardSample(Struct, frozen=True):
    """One refresh: every pane's snapshot, taken by the owner's collectors."""

    status: Status
    """The foreground's status (the header)."""
    system: SystemSnapshot
    gpu: GpuSnapshot
    server: ServerSnapshot | None
    """The followed instance's llama-server (/metrics, /slots)."""
    container: ContainerSnapshot | None
    """The followed instance's container (None: the process runtime)."""
    followed: Status | None
    """The followed instance's status when it is not the foreground one."""
    instances: tuple[InstanceInfo, ...]
    budget: int | None
    """The pool's memory budget in bytes (None: not known)."""
    rates: dict[str, float | None]
    """Generation tokens/s of the instances beside the followed one, by port."""
    hosts: tuple[HostInfo, ...] = ()
    """The other Docker hosts (``[host NAME]``) as their last look found them."""


class DashboardLogs(Struct, frozen=True):
    """Log lines of the followed instance since the client's cursor."""

    seq: int
    """The cursor to resume from (``?since=`` on reconnect)."""
    lines: tuple[str, ...]
    reset: bool = False
    """The cursor was not the owner's (it restarted, or another instance): start afresh."""
