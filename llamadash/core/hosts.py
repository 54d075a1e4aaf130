"""More Docker engines: a ``[host NAME]`` section each, with its own pool, limits and router.

The ``[llamadash]`` engine is the host ``local``, exactly as without hosts. Each other host has
its own settings (``HOST_KEYS`` override ``[llamadash]``'s), compose runtime on its engine and
Pool; a profile's ``host`` says where it runs. Its servers are reached at the host's
``address`` (the proxy's upstream, the health polls). A host that does not answer is looked at
with a deadline, so it is reported unreachable without holding up the others.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from llamadash.core.demand import DemandRouter
from llamadash.core.events import HostInfo, InstanceInfo, SwitchOutcome
from llamadash.core.hostnames import DEFAULT_HOST, host_of_section
from llamadash.core.idle import IdleWatch
from llamadash.core.inifile import ConfigError, Section
from llamadash.core.instance import Instance
from llamadash.core.pool import MemoryFacts, Pool, Spawn
from llamadash.core.pool_view import describe
from llamadash.core.profiles import ProfileSet
from llamadash.core.restarts import CrashRestarts
from llamadash.core.runtime.base import RuntimeFailure
from llamadash.core.settings import Settings, check_pool, coerce_setting
from llamadash.core.statefile import PoolRecord

__all__ = [
    "HOST_KEYS",
    "LOOK_TIMEOUT",
    "Host",
    "HostedIdle",
    "HostedPool",
    "describe_hosts",
    "host_settings",
]

HOST_KEYS = (
    "docker_host",
    "compose_files",
    "address",
    "models_dir",
    "image",
    "port",
    "port_range",
    "max_instances",
    "memory_budget",
    "memory_reserve",
)
LOOK_TIMEOUT = 3.0
"""Seconds a host's engine gets to answer a look before it is reported unreachable."""


@dataclass
class Host:
    """One ``[host NAME]``: its settings, pool, router and what its last look found."""

    name: str
    settings: Settings
    address: str
    pool: Pool
    router: DemandRouter
    idle: IdleWatch
    restarts: CrashRestarts
    seen: HostInfo

    def info(self, error: str | None) -> HostInfo:
        """The host as looked at now: reachable unless ``error``."""
        self.seen = HostInfo(
            self.name, self.settings.docker_host, self.address, error is None, error, time.time()
        )
        return self.seen


def host_settings(base: Settings, section: Section, path: Path | str) -> tuple[Settings, str]:
    """The settings of ``[host NAME]`` (``base`` with its keys) and its servers' address.

    Its compose projects are ``<project>_<name>`` (and ``<project>_<name>-<profile>`` beside
    its foreground), so its .env files, records and logs are its own.

    Raises:
        ConfigError: an unknown key, a bad value, no docker_host, or no address to derive.
    """
    name = host_of_section(section.name) or section.name
    values: dict[str, object] = {}
    address = ""
    for entry in section.entries:
        if entry.key not in HOST_KEYS:
            known = ", ".join(HOST_KEYS)
            raise ConfigError(path, entry.line, f"unknown host key (known: {known})", entry.key)
        if entry.key == "address":
            address = entry.value.strip()
        else:
            values[entry.key] = coerce_setting(entry.key, entry.value, str(path), entry.line)
    engine = str(values.get("docker_host", "")).strip()
    if not engine:
        raise ConfigError(
            path, section.line, f"[host {name}] needs docker_host (a URL or a docker context)"
        )
    address = address or _address_of(engine)
    if not address:
        raise ConfigError(
            path,
            section.line,
            f"[host {name}] needs address (the name or IP its servers are reached at)",
        )
    models = values.get("models_dir")
    if isinstance(models, Path) and not models.expanduser().is_absolute():
        values["models_dir"] = (Path(path).parent / models).resolve()
    settings = replace(base, project_name=f"{base.project_name}_{name}", **values)  # type: ignore[arg-type]
    check_pool(settings)
    return settings, address


def _address_of(docker_host: str) -> str:
    """Where a host's servers answer, from its engine URL: a unix socket is this machine."""
    if docker_host.startswith("unix://"):
        return "127.0.0.1"
    if "://" not in docker_host:
        return ""  # a context name: say it
    return urlsplit(docker_host).hostname or ""


class HostedPool(Pool):
    """The ``local`` pool, handing what a verb names on another host to that host's pool.

    Listing, admission and eviction stay per host (``instances()`` is this host's): only
    switch, start, stop and restart of a profile whose ``host`` is another go there.
    """

    def __init__(
        self, foreground: Instance, spawn: Spawn, memory: MemoryFacts, record: PoolRecord
    ) -> None:
        super().__init__(foreground, spawn, memory, record)
        self.hosts: Mapping[str, Host] = {}
        """The other hosts by name (core/context.py sets them right after)."""
        self._moving: set[asyncio.Task[list[SwitchOutcome]]] = set()

    def _elsewhere(self, target: str | None) -> Pool | None:
        profile = self.profiles.get(target or "")
        host = self.hosts.get(profile.host) if profile is not None else None
        return host.pool if host is not None else None

    async def switch(
        self, target: str | None, *, restart: bool = False, by_request: bool = False
    ) -> SwitchOutcome:
        """As Pool.switch, on the profile's host."""
        if (other := self._elsewhere(target)) is not None:
            return await other.switch(target, restart=restart, by_request=by_request)
        return await super().switch(target, restart=restart, by_request=by_request)

    async def start(self, target: str, *, keep: frozenset[str] = frozenset()) -> SwitchOutcome:
        """As Pool.start, on the profile's host."""
        if (other := self._elsewhere(target)) is not None:
            return await other.start(target, keep=keep)
        return await super().start(target, keep=keep)

    async def stop(self, target: str | None = None, *, reason: str = "") -> list[SwitchOutcome]:
        """As Pool.stop; every instance of every host for None."""
        if target is None:
            everywhere = [host.pool.stop() for host in self.hosts.values()]
            stopped = await asyncio.gather(super().stop(), *everywhere, return_exceptions=True)
            return [o for outcomes in stopped if isinstance(outcomes, list) for o in outcomes]
        if (other := self._elsewhere(target)) is not None and other.find(target) is not None:
            return await other.stop(target, reason=reason)
        return await super().stop(target, reason=reason)

    async def restart(self, target: str) -> SwitchOutcome:
        """As Pool.restart, on the profile's host."""
        if (other := self._elsewhere(target)) is not None:
            return await other.restart(target)
        return await super().restart(target)

    def replace_profiles(self, profiles: ProfileSet) -> None:
        """models.conf was reloaded: the other hosts see it too; a moved profile is stopped.

        A profile whose ``host`` changed stops where it runs (the next request or start
        brings it up on its new host): one profile, one server.
        """
        super().replace_profiles(profiles)
        for host in self.hosts.values():
            host.pool.foreground.replace_profiles(profiles)
            host.pool.replace_profiles(profiles)
        pools: list[tuple[str, Pool]] = [(DEFAULT_HOST, self)]
        pools += [(name, host.pool) for name, host in self.hosts.items()]
        for name, pool in pools:
            for instance in pool.instances():
                profile = profiles.get(instance.profile_id or "")
                if profile is not None and profile.host != name:
                    reason = f"{profile.id} moved to host {profile.host}"
                    stop = Pool.stop(pool, profile.id, reason=reason)
                    task = asyncio.get_running_loop().create_task(stop)
                    self._moving.add(task)
                    task.add_done_callback(self._moving.discard)

    async def adopt(self, *, watch: bool = True) -> None:
        """Take over what runs here, then on each host within LOOK_TIMEOUT (a dead one waits)."""
        await super().adopt(watch=watch)
        adopting = (
            asyncio.wait_for(h.pool.adopt(watch=watch), LOOK_TIMEOUT) for h in self.hosts.values()
        )
        for host, failed in zip(
            self.hosts.values(),
            await asyncio.gather(*adopting, return_exceptions=True),
            strict=True,
        ):
            if isinstance(failed, BaseException):
                host.info(str(failed) or type(failed).__name__)

    async def aclose(self) -> None:
        """Close every host's instances too (their servers keep running)."""
        await asyncio.gather(*(host.pool.aclose() for host in self.hosts.values()))
        await super().aclose()


class HostedIdle(IdleWatch):
    """The local pool's idle watch, starting and closing every host's with it (their ttls)."""

    def __init__(self, pool: HostedPool) -> None:
        super().__init__(pool)
        self.others = [host.idle for host in pool.hosts.values()]

    def start(self) -> None:
        """Look in the background here and on every host (idempotent)."""
        super().start()
        for other in self.others:
            other.start()

    async def aclose(self) -> None:
        """Stop looking, everywhere."""
        for other in self.others:
            await other.aclose()
        await super().aclose()


async def describe_hosts(
    local: Pool, hosts: Mapping[str, Host], idle: IdleWatch | None = None, *, probe: bool = False
) -> tuple[tuple[InstanceInfo, ...], tuple[HostInfo, ...]]:
    """Every host's instances (each naming its host) and each host's reachability.

    Hosts are looked at together, each within ``LOOK_TIMEOUT``: a dead engine is reported
    (its error, when) and its instances left out, never making the others wait. The local
    host's own errors propagate as before hosts existed.
    """

    async def look(host: Host) -> tuple[InstanceInfo, ...] | str:
        try:
            return await asyncio.wait_for(describe(host.pool, host.idle, probe=probe), LOOK_TIMEOUT)
        except TimeoutError:
            return f"no answer from {host.settings.docker_host} within {LOOK_TIMEOUT:g} s"
        except RuntimeFailure as exc:
            return str(exc)

    own, looks = await asyncio.gather(
        describe(local, idle, probe=probe), asyncio.gather(*map(look, hosts.values()))
    )
    infos = [replace(i, host=DEFAULT_HOST) for i in own]
    seen = []
    for host, found in zip(hosts.values(), looks, strict=True):
        seen.append(host.info(found if isinstance(found, str) else None))
        if not isinstance(found, str):
            infos += [replace(i, host=host.name) for i in found]
    return tuple(infos), tuple(seen)
