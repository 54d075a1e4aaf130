"""NVIDIA GPU collector (NVML through ``pynvml``); no GPU or no driver is a state, not an error."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llamadash.collectors.pids import pid_in_container, pids_of_container, process_name

__all__ = [
    "GpuCollector",
    "GpuInfo",
    "GpuProcess",
    "GpuSnapshot",
    "nvidia_gpu_count",
    "pid_in_container",
    "pids_of_container",
]


@dataclass(frozen=True)
class GpuProcess:
    """A process holding memory on a GPU (host PID)."""

    pid: int
    name: str | None
    vram_bytes: int | None
    is_server: bool


@dataclass(frozen=True)
class GpuInfo:
    """One GPU; a metric the device or driver does not support is None."""

    index: int
    name: str | None
    util_pct: float | None
    mem_used: int | None
    mem_total: int | None
    temp_c: float | None
    power_w: float | None
    power_limit_w: float | None
    processes: tuple[GpuProcess, ...]


@dataclass(frozen=True)
class GpuSnapshot:
    """All GPUs at one instant; ``available`` is False (with a ``reason``) without NVML."""

    available: bool
    reason: str
    gpus: tuple[GpuInfo, ...]
    at: float


def _load_nvml(nvml: Any) -> Any:
    """Return ``nvml`` or, when it is None, the real ``pynvml`` module (None if not installed)."""
    if nvml is not None:
        return nvml
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


def _short(exc: BaseException) -> str:
    """A one-line description of ``exc``."""
    text = str(exc).strip().splitlines()
    return text[0] if text and text[0] else type(exc).__name__


def _shutdown(lib: Any) -> None:
    """``nvmlShutdown()`` if the module has it; a failure there changes nothing for us."""
    with contextlib.suppress(Exception):
        lib.nvmlShutdown()


def nvidia_gpu_count(nvml: Any = None) -> int:
    """Count NVIDIA GPUs.

    Args:
        nvml: An NVML module (default: ``pynvml``).

    Returns:
        The number of GPUs NVML sees; 0 when NVML is missing or cannot initialise.
    """
    lib = _load_nvml(nvml)
    if lib is None:
        return 0
    try:
        lib.nvmlInit()
    except Exception:
        return 0
    try:
        return int(lib.nvmlDeviceGetCount())
    except Exception:
        return 0
    finally:
        _shutdown(lib)


def _name(raw: Any) -> str:
    """Decode a name NVML returned as str (new bindings) or bytes (old ones)."""
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


class GpuCollector:
    """Reads every NVIDIA GPU through NVML; NVML is initialised once, on first use.

    Args:
        server_pids: Returns the host PIDs of the running llama-server (and its children);
            their GPU processes get ``is_server=True``.
        nvml: The NVML module (default: ``pynvml``); tests pass a fake with the same names.
    """

    def __init__(self, server_pids: Callable[[], set[int]] | None = None, nvml: Any = None) -> None:
        self._server_pids = server_pids
        self._nvml_arg = nvml
        self._nvml: Any = None
        self._failure: str | None = None
        self._initialised = False

    def _init(self) -> str | None:
        """Initialise NVML once; return why it is unusable, or None when it works."""
        if self._initialised:
            return self._failure
        self._initialised = True
        lib = _load_nvml(self._nvml_arg)
        if lib is None:
            self._failure = "No NVIDIA GPU found (pynvml is not installed)"
            return self._failure
        try:
            lib.nvmlInit()
        except Exception as exc:
            self._failure = f"No NVIDIA GPU found ({_short(exc)})"
            return self._failure
        self._nvml = lib
        return None

    def _query(self, func: str, *args: Any) -> Any:
        """Call ``nvml.<func>(*args)``; an NVML error (NotSupported…) or a missing call is None."""
        try:
            return getattr(self._nvml, func)(*args)
        except Exception:  # NVMLError_NotSupported and friends, or an old binding without func
            return None

    def _server_pid_set(self) -> set[int]:
        if self._server_pids is None:
            return set()
        try:
            return set(self._server_pids())
        except Exception:
            return set()

    def _processes(self, handle: Any, server: set[int]) -> tuple[GpuProcess, ...]:
        procs = self._query("nvmlDeviceGetComputeRunningProcesses", handle) or []
        result = []
        for proc in procs:
            pid = int(proc.pid)
            used = getattr(proc, "usedGpuMemory", None)
            result.append(
                GpuProcess(
                    pid=pid,
                    name=process_name(pid),
                    vram_bytes=int(used) if isinstance(used, int) else None,
                    is_server=pid in server,
                )
            )
        return tuple(result)

    def _gpu(self, index: int, server: set[int]) -> GpuInfo:
        handle = self._query("nvmlDeviceGetHandleByIndex", index)
        if handle is None:
            return GpuInfo(index, None, None, None, None, None, None, None, ())
        name = self._query("nvmlDeviceGetName", handle)
        util = self._query("nvmlDeviceGetUtilizationRates", handle)
        mem = self._query("nvmlDeviceGetMemoryInfo", handle)
        temp = self._query("nvmlDeviceGetTemperature", handle, self._nvml.NVML_TEMPERATURE_GPU)
        power = self._query("nvmlDeviceGetPowerUsage", handle)
        limit = self._query("nvmlDeviceGetEnforcedPowerManagementLimit", handle)
        return GpuInfo(
            index=index,
            name=None if name is None else _name(name),
            util_pct=None if util is None else float(util.gpu),
            mem_used=None if mem is None else int(mem.used),
            mem_total=None if mem is None else int(mem.total),
            temp_c=None if temp is None else float(temp),
            power_w=None if power is None else power / 1000.0,
            power_limit_w=None if limit is None else limit / 1000.0,
            processes=self._processes(handle, server),
        )

    def collect(self) -> GpuSnapshot:
        """Read every GPU now.

        Returns:
            The snapshot; ``available=False`` with a reason when NVML or the GPUs are missing.
        """
        now = time.time()
        failure = self._init()
        if failure is not None:
            return GpuSnapshot(available=False, reason=failure, gpus=(), at=now)
        count = self._query("nvmlDeviceGetCount")
        if not count:
            reason = "No NVIDIA GPU found (NVML reports no device)"
            return GpuSnapshot(available=False, reason=reason, gpus=(), at=now)
        server = self._server_pid_set()
        gpus = tuple(self._gpu(index, server) for index in range(int(count)))
        return GpuSnapshot(available=True, reason="", gpus=gpus, at=now)

    def close(self) -> None:
        """Shut NVML down if this collector initialised it."""
        if self._nvml is not None:
            _shutdown(self._nvml)
            self._nvml = None
            self._initialised = False


def free_vram(nvml: Any = None) -> list[int]:
    """Free bytes per NVIDIA GPU (the pool's auto memory budget); [] without NVML or a GPU."""
    lib = _load_nvml(nvml)
    if lib is None:
        return []
    try:
        lib.nvmlInit()
    except Exception:
        return []
    try:
        handles = [lib.nvmlDeviceGetHandleByIndex(i) for i in range(lib.nvmlDeviceGetCount())]
        return [int(lib.nvmlDeviceGetMemoryInfo(h).free) for h in handles]
    except Exception:
        return []
    finally:
        _shutdown(lib)


def vram_used_by(pids: set[int], nvml: Any = None) -> int | None:
    """Bytes of VRAM NVML attributes to ``pids`` on every GPU; None without NVML or a GPU."""
    lib = _load_nvml(nvml)
    if lib is None:
        return None
    try:
        lib.nvmlInit()
    except Exception:
        return None
    try:
        total, seen = 0, False
        for index in range(lib.nvmlDeviceGetCount()):
            handle = lib.nvmlDeviceGetHandleByIndex(index)
            seen = True
            for proc in lib.nvmlDeviceGetComputeRunningProcesses(handle) or []:
                used = getattr(proc, "usedGpuMemory", None)
                if int(proc.pid) in pids and isinstance(used, int):
                    total += used
        return total if seen else None
    except Exception:
        return None
    finally:
        _shutdown(lib)
