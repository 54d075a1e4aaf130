"""Build the ``[host NAME]`` hosts of an engine: a compose runtime, pool and router each."""

from __future__ import annotations

from llamadash.core.context_parts import log_path, make_pool, runtime_files
from llamadash.core.demand import DemandRouter
from llamadash.core.events import HostInfo
from llamadash.core.hosts import Host, host_settings
from llamadash.core.idle import IdleWatch
from llamadash.core.inifile import ConfigError
from llamadash.core.instance import Instance
from llamadash.core.logs import LogHub
from llamadash.core.pool_memory import PoolMemory
from llamadash.core.reload import ConfigWatch
from llamadash.core.restarts import CrashRestarts
from llamadash.core.runtime.base import Runtime
from llamadash.core.runtime.compose import ComposeRuntime
from llamadash.core.runtime.docker_host import ContextError
from llamadash.core.statefile import LoadHistory

__all__ = ["build_hosts"]

HOST_SDK_TIMEOUT = 3.0
"""Seconds a host's Docker API call may take: a dead host is seen fast."""


def build_hosts(
    local: Instance, local_runtime: Runtime, history: LoadHistory, watch: ConfigWatch
) -> dict[str, Host]:
    """One Host per ``[host NAME]`` of ``local``'s models.conf (no engine is asked yet).

    Raises:
        ConfigError: a host section is wrong, naming its file and line.
    """
    profiles = local.profiles
    hosts: dict[str, Host] = {}
    for section in profiles.hosts:
        settings, address = host_settings(local.settings, section, profiles.path)
        name = settings.project_name.removeprefix(f"{local.settings.project_name}_")
        env_dir = settings.project_dir / ".llamadash"
        env_dir.mkdir(parents=True, exist_ok=True)
        try:
            runtime = ComposeRuntime(
                settings.project_dir,
                runtime_files(settings, local_runtime),
                settings.project_name,
                env_file=env_dir / f"{settings.project_name}.env",
                docker_host=settings.docker_host,
            )
        except ContextError as exc:
            raise ConfigError(profiles.path, section.line, str(exc), "docker_host") from None
        runtime.endpoint_host = address
        runtime.sdk_timeout = HOST_SDK_TIMEOUT
        foreground = Instance(profiles, settings, runtime, LogHub(log_path(settings)), history)
        foreground.config_watch = watch
        memory = PoolMemory(settings)
        pool = make_pool(foreground, local, runtime, history=history, watch=watch, memory=memory)
        unseen = HostInfo(name, settings.docker_host, address, True, None, 0.0)
        hosts[name] = Host(
            name,
            settings,
            address,
            pool,
            DemandRouter(pool),
            IdleWatch(pool),
            CrashRestarts(pool),
            unseen,
        )
    return hosts
