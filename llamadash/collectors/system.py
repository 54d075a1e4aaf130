"""Host CPU, memory, disk and network collector (psutil)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import psutil

__all__ = ["SystemCollector", "SystemSnapshot"]


@dataclass(frozen=True)
class SystemSnapshot:
    """The host at one instant; rates (and CPU %) are None on the first call."""

    cpu_pct: float | None
    per_core: tuple[float, ...]
    ram_used: int
    ram_total: int
    swap_used: int
    swap_total: int
    load_avg: tuple[float, float, float] | None
    disk_read_bps: float | None
    disk_write_bps: float | None
    net_recv_bps: float | None
    net_sent_bps: float | None
    at: float


def _counters() -> tuple[Any, Any]:
    """Host-wide disk and network I/O counters (each None when unavailable)."""
    try:
        disk = psutil.disk_io_counters()
    except (OSError, RuntimeError):
        disk = None
    try:
        net = psutil.net_io_counters()
    except (OSError, RuntimeError):
        net = None
    return disk, net


def _rate(new: Any, old: Any, field: str, seconds: float) -> float | None:
    """Per-second change of ``field`` between two counter samples; None if unknown or reset."""
    if new is None or old is None or seconds <= 0:
        return None
    delta = getattr(new, field, None), getattr(old, field, None)
    if delta[0] is None or delta[1] is None or delta[0] < delta[1]:
        return None
    return float(delta[0] - delta[1]) / seconds


def _load_avg() -> tuple[float, float, float] | None:
    try:
        one, five, fifteen = psutil.getloadavg()
    except (OSError, AttributeError):
        return None
    return (float(one), float(five), float(fifteen))


class SystemCollector:
    """Non-blocking host metrics; rates are differences with the previous ``collect()``.

    CPU % comes from ``psutil.cpu_percent(interval=None)``, whose baseline psutil keeps
    per calling thread: call ``collect()`` from one thread (it takes well under a millisecond
    of blocking I/O on /proc), or the CPU figures cover the wrong interval.
    """

    def __init__(self) -> None:
        self._prev: tuple[float, Any, Any] | None = None

    def collect(self) -> SystemSnapshot:
        """Sample the host now.

        Returns:
            The snapshot; ``cpu_pct``, ``per_core`` and every ``*_bps`` rate need a previous
            call, so they are None (``per_core`` empty) on the first one.
        """
        cpu = psutil.cpu_percent(interval=None)
        per_core = psutil.cpu_percent(interval=None, percpu=True)
        clock = time.monotonic()
        now = time.time()
        vm = psutil.virtual_memory()
        swap = psutil.swap_memory()
        disk, net = _counters()
        prev = self._prev
        self._prev = (clock, disk, net)
        first = prev is None
        seconds = 0.0 if prev is None else clock - prev[0]
        old_disk = None if prev is None else prev[1]
        old_net = None if prev is None else prev[2]
        return SystemSnapshot(
            cpu_pct=None if first else float(cpu),
            per_core=() if first else tuple(float(p) for p in per_core),
            ram_used=int(vm.used),
            ram_total=int(vm.total),
            swap_used=int(swap.used),
            swap_total=int(swap.total),
            load_avg=_load_avg(),
            disk_read_bps=_rate(disk, old_disk, "read_bytes", seconds),
            disk_write_bps=_rate(disk, old_disk, "write_bytes", seconds),
            net_recv_bps=_rate(net, old_net, "bytes_recv", seconds),
            net_sent_bps=_rate(net, old_net, "bytes_sent", seconds),
            at=now,
        )
