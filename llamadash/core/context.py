"""Build the engine from a models.conf path and flags: the one factory every front end uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llamadash.core.context_parts import beside_settings, log_path, make_pool, resolve_files, slug
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
from llamadash.core.statefile import LoadHistory, OwnerLock

if TYPE_CHECKING:
    from llamadash.core.hosts import Host

__all__ = ["Engine", "beside_settings", "build_engine", "log_path", "make_runtime", "slug"]


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
    hosts: dict[str, Host] = field(default_factory=dict)
    """The other Docker hosts (``[host NAME]``), each with its pool and router (core/hosts.py)."""

    def pool_for(self, profile_id: str) -> Pool:
        """The pool of the host ``profile_id`` runs on (``pool`` for the local host)."""
        profile = self.profiles.get(profile_id)
        host = self.hosts.get(profile.host) if profile is not None else None
        return self.pool if host is None else host.pool

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

    memory = PoolMemory(settings, gpu_free, vram_of)
    hosts: dict[str, Host] = {}
    if profiles.hosts:  # only then: a config without [host] builds exactly what it did
        from llamadash.core.demand_hosts import HostRouter
        from llamadash.core.host_build import build_hosts
        from llamadash.core.hosts import HostedIdle, HostedPool

        hosts = build_hosts(switcher, runtime, history, watch)
        pool = make_pool(
            switcher,
            switcher,
            runtime,
            history=history,
            watch=watch,
            memory=memory,
            kind=HostedPool,
        )
        assert isinstance(pool, HostedPool)
        pool.hosts = hosts
        router: DemandRouter = HostRouter(pool, {n: h.router for n, h in hosts.items()})
        idle: IdleWatch = HostedIdle(pool)
    else:
        pool = make_pool(switcher, switcher, runtime, history=history, watch=watch, memory=memory)
        router, idle = DemandRouter(pool), IdleWatch(pool)
    watch.subscribe(lambda _health: pool.replace_profiles(switcher.profiles))
    lock = OwnerLock.for_project(settings.state_dir, settings.project_name)
    restarts = CrashRestarts(pool)
    return Engine(settings, runtime, switcher, lock, watch, pool, idle, restarts, router, hosts)


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
    resolved = resolve_files(settings, files)
    try:
        return ComposeRuntime(
            settings.project_dir, resolved, settings.project_name, docker_host=settings.docker_host
        )
    except ContextError as exc:
        raise ConfigError("docker_host", None, str(exc)) from None
