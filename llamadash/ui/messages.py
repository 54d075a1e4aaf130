"""App-wide messages: each carries an immutable snapshot, posted by workers or the engine."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from llamadash.collectors.container import ContainerSnapshot
from llamadash.collectors.gpu import GpuSnapshot
from llamadash.collectors.server import ServerSnapshot
from llamadash.collectors.system import SystemSnapshot
from llamadash.core.events import HostInfo, InstanceInfo, Status, SwitchEvent, SwitchOutcome
from llamadash.core.reload import ConfigHealth


@dataclass
class GpuSampled(Message):
    """A new GPU snapshot."""

    snapshot: GpuSnapshot


@dataclass
class SystemSampled(Message):
    """A new CPU/RAM/disk/net snapshot."""

    snapshot: SystemSnapshot


@dataclass
class ContainerSampled(Message):
    """A new container snapshot (of the instance on ``port``; None: the followed one)."""

    snapshot: ContainerSnapshot
    port: int | None = None


@dataclass
class ServerSampled(Message):
    """A new llama-server metrics snapshot (of the instance on ``port``; None: the followed one)."""

    snapshot: ServerSnapshot
    port: int | None = None


@dataclass
class EngineChanged(Message):
    """The switcher published a state change or progress update."""

    event: SwitchEvent


@dataclass
class StatusObserved(Message):
    """A fresh Status computed from observation (of the instance on ``port``; None: foreground)."""

    status: Status
    port: int | None = None


@dataclass
class PoolDescribed(Message):
    """Every instance of the pool as the list shows it, and the memory budget (bytes)."""

    instances: tuple[InstanceInfo, ...]
    budget: int | None
    hosts: tuple[HostInfo, ...] = ()
    """The other Docker hosts (``[host NAME]``) as their last look found them."""


@dataclass
class PoolRefused(Message):
    """A start, switch or stop asked from the dashboard was refused before it began."""

    title: str
    reason: str


@dataclass
class SwitchFinished(Message):
    """A switch (or stop) requested from the dashboard ended."""

    outcome: SwitchOutcome


@dataclass
class ConfigReloaded(Message):
    """models.conf was read again (or failed to be): the new health."""

    health: ConfigHealth
