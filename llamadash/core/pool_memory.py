"""The memory facts the pool's admission uses: measured where it can be, estimated where not.

After each load the instance's real use is recorded (RSS of its process tree — the container's
init and the server under it — and the buffers llama-server itself logs), per profile and a
hash of its arguments and model file, in the state dir. A profile never measured with these
arguments is estimated from its GGUF (weights + KV cache for its context) and labelled so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from llamadash.core.admission import Holder
from llamadash.core.gguf_estimate import estimate_memory
from llamadash.core.instance import Instance
from llamadash.core.memory import BufferTally, memory_budget, tree_pids, tree_rss
from llamadash.core.memory_book import Measurement, MemoryBook, profile_key
from llamadash.core.profiles import Profile
from llamadash.core.settings import Settings

log = logging.getLogger(__name__)
GpuFree = Callable[[], Sequence[int]]
"""Free VRAM per GPU in bytes (the front ends pass NVML's; the core never asks it itself)."""
VramOf = Callable[[set[int]], int | None]
"""VRAM NVML attributes to a set of PIDs (None: no GPU to ask)."""
MEASURE_LOG_LINES = 2000  # the load's lines are this recent when the server turns ready


def no_gpus() -> Sequence[int]:
    """The free VRAM a front end that does not look reports: no GPU."""
    return ()


def no_vram(_pids: set[int]) -> int | None:
    """The VRAM use a front end that does not look reports: none known."""
    return None


class PoolMemory:
    """MemoryFacts (core/pool.py) from /proc, the server's log, its GGUF and the state dir."""

    def __init__(
        self, settings: Settings, gpu_free: GpuFree = no_gpus, vram_of: VramOf = no_vram
    ) -> None:
        self.settings = settings
        self.book = MemoryBook(settings.state_dir / "memory.toml")
        self._gpu_free = gpu_free
        self._vram_of = vram_of
        self._estimates: dict[str, tuple[int, bool]] = {}

    def key(self, profile: Profile) -> str:
        """Profile arguments (no host or port: the same load on any port) and model file."""
        return profile_key(profile, self.settings.models_dir)

    async def need(self, instance: Instance, profile: Profile) -> tuple[int, bool]:
        """The last measurement of this profile with these arguments, else the estimate."""
        key = self.key(profile)
        if (measured := self.book.get(profile.id, key)) is not None:
            return measured.expected, True
        if key not in self._estimates:
            path = profile.model_path(self.settings.models_dir)
            args = profile.server_args(str(path))
            try:
                estimate = await asyncio.to_thread(estimate_memory, path, args)
                self._estimates[key] = (estimate.total, False)
            except (OSError, ValueError) as exc:
                log.warning("no memory estimate for %s: %s", profile.id, exc)
                self._estimates[key] = (0, False)
        return self._estimates[key]

    def held(self, instance: Instance) -> tuple[int, bool]:
        """What a running instance holds: its measurement, else its profile's estimate."""
        profile = instance.profiles.get(instance.profile_id or "")
        if profile is None:
            return 0, False
        key = self.key(profile)
        if (measured := self.book.get(profile.id, key)) is not None:
            return measured.expected, True
        return self._estimates.get(key, (0, False))

    def budget(self, holders: Sequence[Holder]) -> tuple[int, str]:
        """The budget for all instances together.

        A size in models.conf is the budget. ``auto`` is what is free now (VRAM, else RAM)
        minus the reserve, plus what our own instances hold: they are already out of "free".
        """
        budget = memory_budget(
            self.settings.memory_budget, self.settings.memory_reserve, self._gpu_free
        )
        if budget.kind == "set":
            return budget.limit, "memory_budget"
        ours = sum(h.memory for h in holders if h.measured)
        kind = "free VRAM" if budget.kind == "vram" else "available RAM"
        return budget.limit + ours, f"{kind} - memory_reserve {self.settings.memory_reserve}"

    async def measure(self, instance: Instance) -> None:
        """Record what a ready instance uses: VRAM (NVML), RSS of its process tree, buffers."""
        profile = instance.profiles.get(instance.profile_id or "")
        obs = instance.last_observation
        if profile is None or obs is None or not obs.pid:
            return
        rss = await asyncio.to_thread(tree_rss, obs.pid)
        pids = await asyncio.to_thread(tree_pids, obs.pid)
        vram = await asyncio.to_thread(self._vram_of, pids) if self._gpu_free() else None
        tally = BufferTally()
        for line in instance.logs.tail(MEASURE_LOG_LINES):
            tally.feed(line)
        if max(rss or 0, tally.total_bytes, vram or 0):
            self.book.record(
                profile.id,
                self.key(profile),
                Measurement(
                    rss=rss or 0, buffers=tally.total_bytes, at=time.time(), vram=vram or None
                ),
            )
