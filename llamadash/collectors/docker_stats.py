"""A background reader of one container's ``docker stats`` stream, keeping the latest sample."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["StatsSample", "StatsStream", "cpu_percent", "memory_used", "online_cpus"]

# Pause before reopening a stream that ended or failed (container restarting, engine hiccup).
_RETRY_S = 1.0


@dataclass(frozen=True)
class StatsSample:
    """One decoded ``docker stats`` sample."""

    cpu_pct: float | None
    mem_used: int | None
    mem_limit: int | None
    at: float
    cpus: int | None = None  # CPUs the container may use: cpu_pct tops out at cpus * 100


def _num(mapping: Any, *keys: str) -> float | None:
    """``mapping[k1][k2]…`` as a number, or None when a key is missing or not a number."""
    value: Any = mapping
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def cpu_percent(stats: Mapping[str, Any]) -> float | None:
    """CPU % the way ``docker stats`` computes it (100 % = one full core).

    Args:
        stats: A decoded stats sample with ``cpu_stats`` and ``precpu_stats``.

    Returns:
        The percentage, or None on the first sample of a stream (no previous reading).
    """
    total = _num(stats, "cpu_stats", "cpu_usage", "total_usage")
    pre_total = _num(stats, "precpu_stats", "cpu_usage", "total_usage")
    system = _num(stats, "cpu_stats", "system_cpu_usage")
    pre_system = _num(stats, "precpu_stats", "system_cpu_usage")
    if total is None or pre_total is None or system is None or not pre_system:
        return None
    cpu_delta, system_delta = total - pre_total, system - pre_system
    if system_delta <= 0 or cpu_delta < 0:
        return None
    return cpu_delta / system_delta * (online_cpus(stats) or 1) * 100.0


def online_cpus(stats: Mapping[str, Any]) -> int | None:
    """CPUs the engine reports for the sample (``online_cpus``, else the per-CPU list)."""
    online = _num(stats, "cpu_stats", "online_cpus")
    if online:
        return int(online)
    cpu_stats = stats.get("cpu_stats")
    usage = cpu_stats.get("cpu_usage") if isinstance(cpu_stats, Mapping) else None
    percpu = usage.get("percpu_usage") if isinstance(usage, Mapping) else None
    return len(percpu) if isinstance(percpu, list) and percpu else None


def memory_used(stats: Mapping[str, Any]) -> int | None:
    """Memory use without the page cache, as ``docker stats`` shows it (cgroup v1 and v2)."""
    usage = _num(stats, "memory_stats", "usage")
    if usage is None:
        return None
    for key in ("total_inactive_file", "inactive_file"):  # cgroup v1, then v2
        cache = _num(stats, "memory_stats", "stats", key)
        if cache is not None and cache < usage:
            return int(usage - cache)
    return int(usage)


def _sample(stats: Mapping[str, Any]) -> StatsSample:
    limit = _num(stats, "memory_stats", "limit")
    return StatsSample(
        cpu_pct=cpu_percent(stats),
        mem_used=memory_used(stats),
        mem_limit=None if not limit else int(limit),
        at=time.time(),
        cpus=online_cpus(stats),
    )


class StatsStream:
    """A daemon thread that reads ``container.stats(stream=True, decode=True)``.

    Args:
        container: A docker SDK ``Container``.
    """

    def __init__(self, container: Any) -> None:
        self.container_id: str = str(container.id)
        self._container = container
        self._latest: StatsSample | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"docker-stats-{self.container_id[:12]}", daemon=True
        )
        self._thread.start()

    @property
    def latest(self) -> StatsSample | None:
        """The newest sample, or None before the first one arrives."""
        with self._lock:
            return self._latest

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for stats in self._container.stats(stream=True, decode=True):
                    if self._stop.is_set():
                        return
                    if isinstance(stats, Mapping):
                        sample = _sample(stats)
                        with self._lock:
                            self._latest = sample
            except Exception:  # noqa: S110 - engine gone or container removed: retry below
                pass
            self._stop.wait(_RETRY_S)

    def stop(self, timeout: float = 0.0) -> None:
        """Ask the thread to end (after its next sample at the latest) and wait ``timeout`` s."""
        self._stop.set()
        if timeout > 0:
            self._thread.join(timeout)
