"""Build the engine from a models.conf path and flags: the one factory every front end uses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llamadash.core.logs import LogHub
from llamadash.core.profiles import ProfileSet, load_profiles
from llamadash.core.runtime.base import EngineUnavailableError, Runtime
from llamadash.core.runtime.compose import ComposeRuntime
from llamadash.core.settings import Settings, load_settings
from llamadash.core.statefile import LoadHistory, OwnerLock
from llamadash.core.switcher import Switcher


@dataclass
class Engine:
    """Everything a front end (dashboard, API, CLI) needs, wired together."""

    profiles: ProfileSet
    settings: Settings
    runtime: Runtime
    switcher: Switcher
    lock: OwnerLock

    @property
    def log_path(self) -> Path:
        """The rotating server log on disk."""
        return log_path(self.settings)


def log_path(settings: Settings) -> Path:
    """Where the server log of this project is written."""
    return settings.state_dir / "logs" / f"{settings.project_name}.log"


def build_engine(models_conf: Path, overrides: dict[str, Any] | None = None) -> Engine:
    """Load models.conf and settings, pick the runtime, wire the switcher.

    Raises:
        ConfigError: models.conf or a setting is wrong.
        EngineUnavailableError: the runtime asked for cannot work here.
    """
    profiles = load_profiles(models_conf)
    settings = load_settings(profiles, overrides=overrides)
    runtime = make_runtime(settings)
    logs = LogHub(log_path(settings))
    history = LoadHistory(settings.state_dir / "state.toml")
    switcher = Switcher(profiles, settings, runtime, logs, history)
    lock = OwnerLock.for_project(settings.state_dir, settings.project_name)
    return Engine(profiles, settings, runtime, switcher, lock)


def make_runtime(settings: Settings) -> Runtime:
    """The runtime the settings ask for; ``auto`` = compose when an engine answers."""
    choice = settings.runtime
    if choice in ("auto", "compose"):
        compose = _compose_runtime(settings)
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


def _compose_runtime(settings: Settings) -> ComposeRuntime:
    from llamadash.collectors.gpu import nvidia_gpu_count

    files = settings.compose_files
    if not files:
        files = (
            ("compose.yaml",) if nvidia_gpu_count() > 0 else ("compose.yaml", "compose.cpu.yaml")
        )
    resolved = tuple(str((settings.project_dir / f).resolve()) for f in files)
    return ComposeRuntime(settings.project_dir, resolved, settings.project_name)
