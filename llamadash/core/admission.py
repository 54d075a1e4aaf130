"""Admission: may one more server start, and which idle ones must stop first (pure).

The pool (core/pool.py) gathers the facts — each running instance's memory (measured at its
load, or estimated from its GGUF while never measured), whether it is pinned or busy, when it
was last used — and this module decides. Nothing here looks at a process or a file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llamadash.core.memory import format_size

GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True)
class Holder:
    """One instance that runs (or is loading) and holds memory."""

    id: str
    memory: int
    """Bytes it holds: measured, or its estimate while loading or never measured."""
    measured: bool
    pinned: bool = False
    busy: bool = False
    """A slot is processing or a request is in flight: never stopped to make room."""
    last_used: float = 0.0
    foreground: bool = False


@dataclass(frozen=True)
class Need:
    """The instance asked for: its id and the memory it will take."""

    id: str
    memory: int
    measured: bool


@dataclass(frozen=True)
class Plan:
    """What to stop, least recently used first, before the new instance starts."""

    evict: tuple[str, ...]
    free_after: int
    """Bytes of the budget left once the evicted stopped and the new one runs."""


class AdmissionRefused(Exception):
    """It cannot start without stopping what may not be stopped; the message says who holds what."""


def plan_admission(
    need: Need,
    holders: Sequence[Holder],
    *,
    budget: int,
    budget_kind: str,
    max_instances: int,
    replacing: str | None = None,
) -> Plan:
    """Decide whether ``need`` fits, and what must stop first.

    Args:
        need: the instance to start.
        holders: every instance running or loading now.
        budget: bytes all instances together may use.
        budget_kind: what the budget is ("available RAM", "free VRAM", "memory_budget").
        max_instances: how many may run at once.
        replacing: the id of the holder the new one replaces (a switch of the foreground
            instance): its memory and its place are freed by the switch itself.

    Raises:
        AdmissionRefused: even after stopping every idle, unpinned instance it would not fit.
    """
    others = [h for h in holders if h.id not in (replacing, need.id)]
    evictable = sorted((h for h in others if not h.pinned and not h.busy), key=_lru)
    used = sum(h.memory for h in others)
    evict: list[Holder] = []
    while evictable and (
        len(others) - len(evict) + 1 > max_instances or used + need.memory > budget
    ):
        victim = evictable.pop(0)
        evict.append(victim)
        used -= victim.memory
    kept = [h for h in others if h not in evict]
    if len(kept) + 1 > max_instances:
        raise AdmissionRefused(
            f"cannot start {need.id}: max_instances = {max_instances} reached and nothing"
            f" can be stopped for it; running: {_describe(kept)}"
        )
    if used + need.memory > budget:
        free = max(budget - used, 0)
        raise AdmissionRefused(
            f"cannot start {need.id}: needs {_amount(need.memory, need.measured)},"
            f" {format_size(free)} free of {format_size(budget)} ({budget_kind});"
            f" running: {_describe(kept)}"
        )
    return Plan(tuple(h.id for h in evict), budget - used - need.memory)


def _lru(holder: Holder) -> tuple[float, str]:
    return (holder.last_used, holder.id)


def _amount(size: int, measured: bool) -> str:
    return format_size(size) if measured else f"~{format_size(size)} (estimate)"


def _describe(holders: Sequence[Holder]) -> str:
    """``qwen (pinned, 18.4 GiB), embed (busy, ~800 MiB (estimate))``."""
    if not holders:
        return "nothing"
    parts = []
    for holder in holders:
        why = [w for w, on in (("pinned", holder.pinned), ("busy", holder.busy)) if on]
        parts.append(f"{holder.id} ({', '.join([*why, _amount(holder.memory, holder.measured)])})")
    return ", ".join(parts)
