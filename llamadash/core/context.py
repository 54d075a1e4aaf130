"""Build the engine from a models.conf path and flags: the one factory every front end uses."""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from llamadash.core.demand import DemandRouter
from llamadash.core.idle import IdleWatch
from llamadash.core.inifile import ConfigError
from llamadash.core.instance import Instance
from llamadash.core.logs import LogHub
from llamadash.core.pool import Pool
from llamadash.core.pool_memory import GpuFree, PoolMemory, VramOf, no_gpus, no_vram
from llamadash.core.profiles import ProfileSet, load_profiles
from llamadash.core.reload import ConfigWatch, load_lenient, signature
from llamadash.core.restarts import CrashRestarts
from llamadash.core.runtime.base import EngineUnavailableError, Runtime
from llamadash.core.runtime.compose import ComposeRuntime
from llamadash.core.runtime.docker_host import ContextError
from llamadash.core.settings import Settings, load_settings
from llamadash.core.statefile import LoadHistory, OwnerLock, PoolRecord


@dataclass
class Engine:
    """Everything a front end (dashboard, API, CLI) needs, wired together."""

    settings: Settings
    runtime: Runtime
    switcher: Instance
    """The foreground instance: the one ``switch`` replaces."""
    lock: OwnerLock
    watch: ConfigWatch
    """Keeps the switcher's profiles in step with models.conf once started (core/reload.py)."""
    pool: Pool
    """Every instance: the foreground one and those started beside it (core/pool.py)."""
    idle: IdleWatch
    """Activity, ttl and least-recently-used of the pool's instances (core/idle.py)."""
    restarts: CrashRestarts
    """Starts a crashed instance again, up to max_restarts times (core/restarts.py)."""
    router: DemandRouter
    """Requests naming a model (/v1/*): queues and swaps on demand (core/demand.py)."""

    @property
    def profiles(self) -> ProfileSet:
        """The profiles now (models.conf as last read successfully)."""
        return self.switcher.profiles

    @property
    def config_error(self) -> str | None:
        """Why models.conf cannot be used (only a ``lenient`` engine is built with one)."""
        return self.watch.health.error

    @property
    def log_path(self) -> Path:
        """The rotating server log on disk."""
        return log_path(self.settings)


def log_path(settings: Settings) -> Path:
    """Where the server log of this project is written."""
    return settings.state_dir / "logs" / f"{settings.project_name}.log"


def no_gpu() -> int:
    """The GPU count front ends that do not look use: compose.cpu.yaml is added."""
    return 0


def build_engine(
    models_conf: Path,
    overrides: dict[str, Any] | None = None,
    *,
    gpu_count: Callable[[], int] = no_gpu,
    gpu_free: GpuFree = no_gpus,
    vram_of: VramOf = no_vram,
    lenient: bool = False,
) -> Engine:
    """Load models.conf and settings, pick the runtime, wire the switcher.

    Args:
        models_conf: the profiles file.
        overrides: settings from the command line (None values are ignored).
        gpu_count: how many NVIDIA GPUs there are; asked only when compose_files is not set,
            to leave out compose.cpu.yaml (the front ends pass the collectors' NVML count:
            the core does not reach up into the collectors).
        gpu_free: free VRAM per GPU in bytes, for an ``auto`` memory budget (NVML's too).
        vram_of: the VRAM NVML gives a set of PIDs, measured after each load (NVML's too).
        lenient: a bad models.conf is no error: the engine has no profiles and
            ``config_error`` says why (``status`` and ``logs`` must work anyway).

    Raises:
        ConfigError: models.conf or a setting is wrong (unless ``lenient``).
        EngineUnavailableError: the runtime asked for cannot work here.
    """
    seen = signature(models_conf)  # before reading: an edit meanwhile is reloaded later
    error: str | None = None
    if lenient:
        profiles, error = load_lenient(models_conf, overrides)
    else:
        profiles = load_profiles(models_conf)
    settings = load_settings(profiles, overrides=overrides)
    runtime = make_runtime(settings, gpu_count)
    logs = LogHub(log_path(settings))
    history = LoadHistory(settings.state_dir / "state.toml")
    switcher = Instance(profiles, settings, runtime, logs, history)
    watch = ConfigWatch(switcher, overrides, seen=seen, error=error)
    switcher.config_watch = watch

    def spawn(profile_id: str, port: int) -> Instance:
        """An instance beside the foreground one: its own port, project, state and log."""
        own = beside_settings(settings, profile_id, port)
        beside = Instance(
            switcher.profiles, own, _runtime_like(runtime, own), LogHub(log_path(own)), history
        )
        beside.config_watch = watch
        return beside

    record = PoolRecord.for_project(settings.state_dir, settings.project_name)
    pool = Pool(switcher, spawn, PoolMemory(settings, gpu_free, vram_of), record)
    watch.subscribe(lambda _health: pool.replace_profiles(switcher.profiles))
    lock = OwnerLock.for_project(settings.state_dir, settings.project_name)
    return Engine(
        settings,
        runtime,
        switcher,
        lock,
        watch,
        pool,
        IdleWatch(pool),
        CrashRestarts(pool),
        DemandRouter(pool),
    )


def beside_settings(settings: Settings, profile_id: str, port: int) -> Settings:
    """The settings of the instance running ``profile_id`` beside the foreground one.

    Its port, and its own project ``<project>-<slug>``: so its own env file, state dir entries
    and log (``log_path`` of these settings).
    """
    return replace(settings, port=port, project_name=f"{settings.project_name}-{slug(profile_id)}")


def slug(profile_id: str) -> str:
    """A profile id as a Compose project name part: lower case, digits, ``-`` and ``_``.

    An id that had to change gets a short hash of itself, so two ids never share a project.
    """
    cleaned = re.sub(r"[^a-z0-9_-]+", "-", profile_id.lower()).strip("-_") or "profile"
    if cleaned == profile_id:
        return cleaned
    return f"{cleaned}-{zlib.crc32(profile_id.encode()):08x}"


def _runtime_like(runtime: Runtime, settings: Settings) -> Runtime:
    """A runtime of the same kind as the foreground one, for another instance's settings."""
    if isinstance(runtime, ComposeRuntime):
        env_dir = settings.project_dir / ".llamadash"
        env_dir.mkdir(parents=True, exist_ok=True)
        return ComposeRuntime(
            runtime.project_dir,
            runtime.compose_files,
            settings.project_name,
            env_file=env_dir / f"{settings.project_name}.env",
            docker_host=runtime.docker_host,
        )
    from llamadash.core.runtime.process import ProcessRuntime

    binary = getattr(runtime, "_binary", None)
    return ProcessRuntime(settings, binary)


def make_runtime(settings: Settings, gpu_count: Callable[[], int] = no_gpu) -> Runtime:
    """The runtime the settings ask for; ``auto`` = compose when an engine answers."""
    choice = settings.runtime
    if choice in ("auto", "compose"):
        compose = _compose_runtime(settings, gpu_count)
        if choice == "compose":
            compose.client()  # raises EngineUnavailableError with the reason
            return compose
        try:
            compose.client()
            return compose
        except EngineUnavailableError:
            compose.close()
    from llamadash.core.runtime.process import ProcessRuntime

    return ProcessRuntime(settings)


def _compose_runtime(settings: Settings, gpu_count: Callable[[], int]) -> ComposeRuntime:
    files = settings.compose_files
    if not files:
        files = ("compose.yaml",) if gpu_count() > 0 else ("compose.yaml", "compose.cpu.yaml")
    resolved = tuple(str((settings.project_dir / f).resolve()) for f in files)
    try:
        return ComposeRuntime(
            settings.project_dir, resolved, settings.project_name, docker_host=settings.docker_host
        )
    except ContextError as exc:
        raise ConfigError("docker_host", None, str(exc)) from None
