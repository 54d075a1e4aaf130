"""What the pool shows: each instance as an InstanceInfo, and the foreground Status with them."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace

from llamadash.core.admission import Holder
from llamadash.core.events import HostInfo, InstanceInfo, State, Status
from llamadash.core.idle import IdleWatch
from llamadash.core.instance import Instance
from llamadash.core.loopback import LoopbackHttpError
from llamadash.core.pool import Pool


async def describe(
    pool: Pool, idle: IdleWatch | None = None, *, probe: bool = False
) -> tuple[InstanceInfo, ...]:
    """Every instance that runs, loads or failed, the foreground one first.

    ``probe``: also time each server's /health and ask /props for its build (``ps``).
    """
    statuses = await asyncio.gather(*(i.status() for i in pool.instances()))
    infos = []
    for instance, status in zip(pool.instances(), statuses, strict=False):
        if status.state == State.IDLE and not status.profile_id:
            continue
        infos.append(_info(pool, idle, instance, status))
    if probe:
        probed = await asyncio.gather(*(_probe(i) for i in pool.instances()))
        by_port = {i.settings.port: p for i, p in zip(pool.instances(), probed, strict=False)}
        infos = [
            replace(info, health_ms=by_port[info.port][0], build=by_port[info.port][1])
            if info.port in by_port
            else info
            for info in infos
        ]
    return tuple(infos)


def _info(pool: Pool, idle: IdleWatch | None, instance: Instance, status: Status) -> InstanceInfo:
    profile = instance.profiles.get(status.profile_id or "")
    memory, measured = pool.memory.held(instance)
    return InstanceInfo(
        id=status.profile_id or "",
        profile_name=status.profile_name,
        state=status.state,
        foreground=instance is pool.foreground,
        port=instance.settings.port,
        endpoint=instance.endpoint,
        runtime=status.runtime,
        ident=status.container,
        pid=instance.last_observation.pid if instance.last_observation else None,
        uptime=status.uptime,
        since=status.since,
        pinned=bool(profile and profile.pin),
        ttl=profile.ttl if profile else 0.0,
        ttl_left=idle.ttl_left(instance) if idle else None,
        memory=memory or None,
        memory_measured=measured,
        last_used=instance.last_used,
        log_path=str(instance.logs.path or ""),
        error=status.last_error,
    )


async def _probe(instance: Instance) -> tuple[float | None, str]:
    """/health latency in ms and the build from /props (None, '' when it does not answer)."""
    began = time.perf_counter()
    try:
        reply = await instance._http.get("/health", timeout=1.0)
    except LoopbackHttpError:
        return None, ""
    latency = (time.perf_counter() - began) * 1000
    build = ""
    if reply.status == 200:
        try:
            props = json.loads((await instance._http.get("/props", timeout=1.0)).body)
            build = str(props.get("build_info", "")) if isinstance(props, dict) else ""
        except (LoopbackHttpError, ValueError):
            pass
    return latency, build


async def describe_all(
    pool: Pool, idle: IdleWatch | None = None, *, probe: bool = False
) -> tuple[tuple[InstanceInfo, ...], tuple[HostInfo, ...]]:
    """``describe`` over every host (core/hosts.py), and how each ``[host]`` answered."""
    from llamadash.core.hosts import HostedPool, describe_hosts

    if isinstance(pool, HostedPool):
        return await describe_hosts(pool, pool.hosts, idle, probe=probe)
    return await describe(pool, idle, probe=probe), ()


async def pool_status(pool: Pool, idle: IdleWatch | None = None) -> Status:
    """The foreground instance's Status (its shape as before the pool), with every instance."""
    status = await pool.foreground.status()
    instances, hosts = await describe_all(pool, idle)
    return replace(status, instances=instances, hosts=hosts)


def memory_budget(pool: Pool, infos: tuple[InstanceInfo, ...]) -> int | None:
    """The pool's memory budget in bytes for what ``infos`` hold (None: it cannot be read).

    Reads /proc/meminfo or NVML: run it in a thread.
    """
    holders = [
        Holder(i.id, i.memory or 0, i.memory_measured, foreground=i.foreground) for i in infos
    ]
    try:
        return pool.memory.budget(holders)[0]
    except (OSError, ValueError):
        return None
