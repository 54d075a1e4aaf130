"""Memory facts for admission: sizes, llama-server's buffer lines, resident memory, the budget.

Everything here is pure or reads /proc only: the pool decides, these pieces measure. Sizes are
binary throughout (1 GB = 1 GiB = 1024³ bytes), as nvidia-smi, ``free`` and llama-server's own
"MiB" figures are, so a user's ``memory_budget = 8GB`` means what those tools show as 8 GiB.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(?:([kmgt])(?:i?b)?|b)?", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes in a size such as ``8GiB``, ``8 GB``, ``512MiB``, ``1.5G``, ``2048M`` or ``123``.

    A bare number is bytes; K, M, G and T (with or without ``B``/``iB``, any case) are binary
    units: ``GB`` and ``GiB`` both mean 1024³ (see the module docstring). Fractions round to the
    nearest byte.

    Raises:
        ValueError: not a non-negative number with one of those units.
    """
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"not a size: {text!r} (expected a number of bytes or one with a unit,"
            " like 512MiB, 8GB or 1.5G; units are binary: 1 GB = 1024 MiB)"
        )
    number, unit = match.groups()
    return round(float(number) * _UNITS[(unit or "").lower()])


def format_size(n: int) -> str:
    """A short readable size: ``5.1 GiB``, ``830 MiB``, ``12 KiB``, ``512 B`` (keeps a sign)."""
    sign, n = ("-", -n) if n < 0 else ("", n)
    if n >= 1 << 40:
        return f"{sign}{n / (1 << 40):.1f} TiB"
    if n >= 1 << 30:
        return f"{sign}{n / (1 << 30):.1f} GiB"
    if n >= 1 << 20:
        # 830 MiB, but 1.5 MiB: a whole number alone would round small figures by up to 1/3.
        return f"{sign}{n / (1 << 20):.{0 if n >= 10 << 20 else 1}f} MiB"
    if n >= 1 << 10:
        return f"{sign}{n / (1 << 10):.0f} KiB"
    return f"{sign}{n} B"


# "load_tensors:   CPU_Mapped model buffer size =   235.16 MiB", "llama_kv_cache:      CUDA0 KV
# buffer size = 182.75 MiB", "sched_reserve:  CUDA_Host compute buffer size = ...", "llama_context:
# CPU  output buffer size = ...", and from older builds "llm_load_tensors:      CUDA0 buffer size =
# ..." (no kind word: weights) and "init:    Vulkan0 KV buffer size = ...". The summary lines
# ("llama_kv_cache: size = ...", "KV self size = ...") name no device and are not matched.
_BUFFER = re.compile(
    r"(?P<device>[^\s:]+)\s+(?:(?P<kind>model|KV|compute|output)\s+)?buffer size\s*=\s*"
    r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[KMG]i?B|B)\b"
)
# Colored logs (--log-colors on, or a terminal) wrap the prefix in SGR sequences.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
BufferKind = Literal["model", "kv", "compute", "output"]
KINDS: tuple[BufferKind, ...] = ("model", "kv", "compute", "output")
_KIND: dict[str, BufferKind] = {
    "model": "model",
    "KV": "kv",
    "compute": "compute",
    "output": "output",
}


class BufferTally:
    """The buffer sizes one llama-server load logs, per kind and device.

    Feed it every line of one launch. With the test bed's llama-server build these lines only
    print at ``-lv 4`` (debug) or higher; at the default verbosity 3 none appear. Every line
    adds up: an iSWA model logs two KV buffers on one device, a draft model its own set, so
    summing is right for those and at worst counts a re-reserved compute buffer twice.
    """

    def __init__(self) -> None:
        self.parts: dict[BufferKind, dict[str, int]] = {kind: {} for kind in KINDS}

    def feed(self, line: str) -> bool:
        """Take one log line; True if it was a buffer-size line (and was counted)."""
        if "buffer size" not in line:
            return False
        match = _BUFFER.search(_ANSI.sub("", line))
        if match is None:
            return False
        # The old spelling of the weights line has no kind word; any other such line is not
        # one of ours.
        if match["kind"] is None and "load_tensors" not in line:
            return False
        kind = _KIND[match["kind"] or "model"]
        unit = match["unit"][0].lower() if match["unit"] != "B" else ""
        size = round(float(match["number"]) * _UNITS[unit])
        devices = self.parts[kind]
        devices[match["device"]] = devices.get(match["device"], 0) + size
        return True

    def kind_bytes(self, kind: BufferKind) -> int:
        """Bytes of one kind over every device."""
        return sum(self.parts[kind].values())

    def device_bytes(self) -> dict[str, int]:
        """Bytes per device over every kind (``CPU_Mapped``, ``CUDA0``, ``CUDA_Host``...)."""
        totals: dict[str, int] = {}
        for devices in self.parts.values():
            for device, size in devices.items():
                totals[device] = totals.get(device, 0) + size
        return totals

    @property
    def total_bytes(self) -> int:
        """Every buffer logged so far."""
        return sum(self.kind_bytes(kind) for kind in KINDS)


def on_host(device: str) -> bool:
    """Whether a llama.cpp buffer device is host RAM (``CPU``, ``CPU_Mapped``, ``CUDA_Host``...)."""
    return device.startswith("CPU") or device.endswith("_Host")


_PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_rss(pid: int, proc: Path = Path("/proc")) -> int | None:
    """Resident bytes of ``pid`` and all its descendants, or None if ``pid`` is gone.

    For a container, pass the host PID Docker reports: that is its init (tini), and the
    llama-server is its child. Pages shared between the processes (libc, a file both map)
    count once per process, as RSS always does; for one server and its init that is a few
    hundred KiB. The walk reads the kernel's per-thread children lists (0.4 ms for a
    llama-server with 14 threads here); without them (no CONFIG_PROC_CHILDREN) one pass over
    every /proc/<pid>/stat builds the parent map instead (6 ms for 94 PIDs here).
    """
    root = _rss(f"{proc}/{pid}")
    if root is None:
        return None
    try:
        found = _walk(pid, lambda parent: _task_children(proc, parent))
    except _NoChildLists:
        parents = _parent_map(proc)
        found = _walk(pid, lambda parent: parents.get(parent, []))
    return root + sum(_rss(f"{proc}/{child}") or 0 for child in found)


def tree_pids(pid: int, proc: Path = Path("/proc")) -> set[int]:
    """``pid`` and every descendant (what NVML may list for a server under a container init)."""
    try:
        found = _walk(pid, lambda parent: _task_children(proc, parent))
    except _NoChildLists:
        parents = _parent_map(proc)
        found = _walk(pid, lambda parent: parents.get(parent, []))
    return {pid, *found}


class _NoChildLists(Exception):
    """The kernel has no /proc/<pid>/task/<tid>/children (built without CONFIG_PROC_CHILDREN)."""


def _walk(pid: int, children: Callable[[int], list[int]]) -> list[int]:
    """Every descendant of ``pid``, each once (a PID reused mid-walk could make a cycle)."""
    stack, seen = [pid], {pid}
    found: list[int] = []
    while stack:
        for child in children(stack.pop()):
            if child not in seen:
                seen.add(child)
                found.append(child)
                stack.append(child)
    return found


def _rss(entry: str) -> int | None:
    try:
        with open(f"{entry}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def _task_children(proc: Path, pid: int) -> list[int]:
    """Children of every thread of ``pid`` ([] if it is gone)."""
    base = f"{proc}/{pid}/task"
    try:
        tasks = os.listdir(base)
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []
    found: list[int] = []
    for tid in tasks:
        try:
            with open(f"{base}/{tid}/children", encoding="ascii") as listed:
                found += [int(child) for child in listed.read().split()]
        except FileNotFoundError:
            if os.path.isdir(f"{base}/{tid}"):  # the thread is there, its list is not
                raise _NoChildLists from None
        except (ProcessLookupError, PermissionError):
            continue
    return found


def _parent_map(proc: Path) -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            with open(f"{proc}/{name}/stat", encoding="utf-8", errors="replace") as stat_file:
                stat = stat_file.read()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses; cut at the last ")".
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(name))
    return children


def available_memory(meminfo: Path = Path("/proc/meminfo")) -> int:
    """MemAvailable in bytes: what the kernel says can be allocated without swapping."""
    for line in meminfo.read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    raise ValueError(f"{meminfo} has no MemAvailable line (Linux 3.14 or later needed)")


BudgetKind = Literal["vram", "ram", "set"]


@dataclass(frozen=True)
class Budget:
    """How many bytes new instances may use, and where that figure came from."""

    limit: int  # bytes, after the reserve, never below 0
    kind: BudgetKind  # "vram": free on the GPUs; "ram": MemAvailable; "set": memory_budget
    reserve: int = 0
    per_gpu: tuple[int, ...] = ()  # free bytes per GPU, before the reserve (kind "vram")

    def describe(self) -> str:
        """``3.2 GiB free VRAM on 2 GPUs after a 1.0 GiB reserve``-style wording for messages."""
        if self.kind == "set":
            return f"{format_size(self.limit)} (memory_budget)"
        where = (
            f"free VRAM on {len(self.per_gpu)} GPU{'s' if len(self.per_gpu) != 1 else ''}"
            if self.kind == "vram"
            else "available RAM"
        )
        reserve = f" after a {format_size(self.reserve)} reserve" if self.reserve else ""
        return f"{format_size(self.limit)} {where}{reserve}"


def memory_budget(
    setting: str,
    reserve: str,
    gpu_free: Callable[[], Sequence[int]] | None = None,
    meminfo: Path = Path("/proc/meminfo"),
) -> Budget:
    """The budget from the ``memory_budget`` and ``memory_reserve`` settings.

    ``auto``: the free VRAM summed over the GPUs ``gpu_free`` reports (free bytes per GPU,
    NVML's view), or MemAvailable when it reports none or is not given, minus ``reserve``. A
    size is taken as stated: the reserve is what auto keeps back, a set budget already chose.
    Errors of ``gpu_free`` propagate: a broken NVML must not quietly turn into a RAM budget.

    Raises:
        ValueError: ``setting`` or ``reserve`` is neither ``auto`` nor a size.
    """
    held = parse_size(reserve)
    if setting.strip().lower() != "auto":
        return Budget(parse_size(setting), "set")
    free = tuple(gpu_free()) if gpu_free is not None else ()
    if free:
        return Budget(max(0, sum(free) - held), "vram", held, free)
    return Budget(max(0, available_memory(meminfo) - held), "ram", held)
