"""Host CPU, memory, disk and network collector (psutil); network rates leave out loopback."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import psutil

__all__ = ["SystemCollector", "SystemSnapshot"]

_Totals = dict[str, int] | None


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


def _busy_and_total(times: Any) -> tuple[float, float]:
    """CPU seconds spent busy, and in total, as psutil.cpu_percent counts them.

    Guest time is already inside user and nice on Linux; idle and iowait are not busy.
    """
    total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    return total - times.idle - getattr(times, "iowait", 0.0), total


def _percent(busy: float, total: float) -> float:
    return 0.0 if total <= 0 else round(min(max(100.0 * busy / total, 0.0), 100.0), 1)


def _whole_disks(names: Iterable[str]) -> frozenset[str]:
    """The disks among ``names`` that are not partitions (psutil's own test, on Linux).

    Summing partitions with their disk would count each byte twice.
    """
    if not sys.platform.startswith("linux"):
        return frozenset(names)
    return frozenset(n for n in names if os.path.exists(f"/sys/block/{n.replace('/', '!')}"))


def _external_nics(names: Iterable[str]) -> frozenset[str]:
    """The interfaces among ``names`` that are not loopback.

    Loopback traffic is the host talking to itself (this dashboard polling llama-server, the
    docker API): counted in, the "net" row showed traffic on an idle machine with no network.
    """
    try:
        stats = psutil.net_if_stats()
    except (OSError, RuntimeError):
        stats = {}

    def loopback(name: str) -> bool:
        flags = getattr(stats.get(name), "flags", "")  # psutil >= 5.9.3
        if flags:
            return "loopback" in flags.split(",")
        return name == "lo" or (name.startswith("lo") and name[2:].isdigit())

    return frozenset(n for n in names if not loopback(n))


def _rate(
    new: Mapping[str, int] | None, old: Mapping[str, int] | None, field: str, seconds: float
) -> float | None:
    """Per-second change of ``field`` between two counter totals; None if unknown or reset."""
    if new is None or old is None or seconds <= 0 or new[field] < old[field]:
        return None
    return float(new[field] - old[field]) / seconds


def _read(counters: Callable[[], Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The per-device counters psutil gives, or None when the host does not offer them."""
    try:
        return counters()
    except (OSError, RuntimeError):
        return None


class _Subset:
    """The devices to sum (whole disks, interfaces but loopback), chosen again on a change.

    Args:
        choose: Picks the names to count from every name the counters have.
    """

    def __init__(self, choose: Callable[[Iterable[str]], frozenset[str]]) -> None:
        self._choose = choose
        self.seen: frozenset[str] = frozenset()
        self.kept: frozenset[str] = frozenset()

    def total(self, per_device: Mapping[str, Any] | None, *fields: str) -> dict[str, int] | None:
        """``fields`` summed over the kept devices; None when there are no counters."""
        if not per_device:
            return None
        names = frozenset(per_device)
        if names != self.seen:  # a device came or went: look again
            self.seen, self.kept = names, self._choose(names)
        return {f: sum(getattr(per_device[n], f) for n in self.kept) for f in fields}


def _load_avg() -> tuple[float, float, float] | None:
    try:
        one, five, fifteen = psutil.getloadavg()
    except (OSError, AttributeError):
        return None
    return (float(one), float(five), float(fifteen))


class SystemCollector:
    """Non-blocking host metrics; rates are differences with the previous ``collect()``.

    Each /proc file is read once per call (psutil's ``cpu_percent`` for the total and again
    per core read /proc/stat twice, and its non-per-disk counters test every disk in /sys on
    every call): a sample costs about 0.3 ms instead of 0.75 ms, every second. Swap changes
    slowly and is read every ``SWAP_EVERY`` calls. Call ``collect()`` from one thread.
    """

    SWAP_EVERY = 5

    def __init__(self) -> None:
        self._prev: tuple[float, tuple[tuple[float, float], ...], _Totals, _Totals] | None = None
        self._disks = _Subset(_whole_disks)
        self._nics = _Subset(_external_nics)
        self._swap: Any = None
        self._calls = 0

    def collect(self) -> SystemSnapshot:
        """Sample the host now.

        Returns:
            The snapshot; ``cpu_pct``, ``per_core`` and every ``*_bps`` rate need a previous
            call, so they are None (``per_core`` empty) on the first one.
        """
        cores = tuple(_busy_and_total(t) for t in psutil.cpu_times(percpu=True))
        clock = time.monotonic()
        now = time.time()
        vm = psutil.virtual_memory()
        if self._swap is None or self._calls % self.SWAP_EVERY == 0:
            self._swap = psutil.swap_memory()
        self._calls += 1
        disk = self._disks.total(
            _read(lambda: psutil.disk_io_counters(perdisk=True, nowrap=False)),
            "read_bytes",
            "write_bytes",
        )
        net = self._nics.total(
            _read(lambda: psutil.net_io_counters(pernic=True, nowrap=False)),
            "bytes_recv",
            "bytes_sent",
        )
        prev = self._prev
        self._prev = (clock, cores, disk, net)
        seconds = 0.0 if prev is None else clock - prev[0]
        old_disk = None if prev is None else prev[2]
        old_net = None if prev is None else prev[3]
        cpu_pct: float | None = None
        per_core: tuple[float, ...] = ()
        if prev is not None and len(prev[1]) == len(cores):  # (a CPU went offline: skip one)
            deltas = [(b - ob, t - ot) for (b, t), (ob, ot) in zip(cores, prev[1], strict=True)]
            per_core = tuple(_percent(b, t) for b, t in deltas)
            cpu_pct = _percent(sum(b for b, _ in deltas), sum(t for _, t in deltas))
        return SystemSnapshot(
            cpu_pct=cpu_pct,
            per_core=per_core,
            ram_used=int(vm.used),
            ram_total=int(vm.total),
            swap_used=int(self._swap.used),
            swap_total=int(self._swap.total),
            load_avg=_load_avg(),
            disk_read_bps=_rate(disk, old_disk, "read_bytes", seconds),
            disk_write_bps=_rate(disk, old_disk, "write_bytes", seconds),
            net_recv_bps=_rate(net, old_net, "bytes_recv", seconds),
            net_sent_bps=_rate(net, old_net, "bytes_sent", seconds),
            at=now,
        )
