"""The pieces the engine factory wires (core/context.py), shared with the hosts' (host_build.py)."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from llamadash.core.instance import Instance
from llamadash.core.logs import LogHub
from llamadash.core.pool import MemoryFacts, Pool
from llamadash.core.reload import ConfigWatch
from llamadash.core.runtime.base import Runtime
from llamadash.core.runtime.compose import ComposeRuntime
from llamadash.core.settings import Settings
from llamadash.core.statefile import LoadHistory, PoolRecord


def log_path(settings: Settings) -> Path:
    """Where the server log of this project is written."""
    return settings.state_dir / "logs" / f"{settings.project_name}.log"


def make_pool(
    foreground: Instance,
    profiles_of: Instance,
    runtime: Runtime,
    *,
    history: LoadHistory,
    watch: ConfigWatch,
    memory: MemoryFacts,
    kind: type[Pool] = Pool,
) -> Pool:
    """A pool around ``foreground`` whose instances beside it run ``profiles_of``'s profiles.

    ``profiles_of``: the local foreground instance, whose profiles follow models.conf.
    """
    settings = foreground.settings

    def spawn(profile_id: str, port: int) -> Instance:
        """An instance beside the foreground one: its own port, project, state and log."""
        own = beside_settings(settings, profile_id, port)
        made = runtime_like(runtime, own)
        beside = Instance(profiles_of.profiles, own, made, LogHub(log_path(own)), history)
        beside.config_watch = watch
        return beside

    record = PoolRecord.for_project(settings.state_dir, settings.project_name)
    return kind(foreground, spawn, memory, record)


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


def runtime_like(runtime: Runtime, settings: Settings) -> Runtime:
    """A runtime of the same kind (and engine) as ``runtime``, for another instance's settings."""
    if isinstance(runtime, ComposeRuntime):
        env_dir = settings.project_dir / ".llamadash"
        env_dir.mkdir(parents=True, exist_ok=True)
        made = ComposeRuntime(
            runtime.project_dir,
            runtime.compose_files,
            settings.project_name,
            env_file=env_dir / f"{settings.project_name}.env",
            docker_host=runtime.docker_host,
        )
        made.endpoint_host, made.sdk_timeout = runtime.endpoint_host, runtime.sdk_timeout
        return made
    from llamadash.core.runtime.process import ProcessRuntime

    binary = getattr(runtime, "_binary", None)
    return ProcessRuntime(settings, binary)


def resolve_files(settings: Settings, files: Iterable[str]) -> tuple[str, ...]:
    """Compose file names as absolute paths (relative ones are in ``project_dir``)."""
    return tuple(str((settings.project_dir / f).resolve()) for f in files)


def runtime_files(settings: Settings, local: Runtime) -> tuple[str, ...]:
    """A host's compose files: its own ``compose_files``, else the local engine's choice."""
    if settings.compose_files:
        return resolve_files(settings, settings.compose_files)
    if isinstance(local, ComposeRuntime):
        return local.compose_files
    return resolve_files(settings, ("compose.yaml", "compose.cpu.yaml"))
