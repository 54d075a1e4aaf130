"""Settings: one typed model. Precedence: defaults → models.conf [llamadash] → env → flags.

Every field can be set in models.conf's ``[llamadash]`` section under its own name, or in the
environment as ``LLAMADASH_<NAME>`` (upper case); command-line flags win over both.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from llamadash.core.inifile import ConfigError
from llamadash.core.profiles import ProfileSet

TYPE_CHECKING = False  # as typing's, without importing typing: see commands/owner.py
if TYPE_CHECKING:
    from typing import Any


def _state_home() -> Path:
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "llamadash"


@dataclass(frozen=True)
class Settings:
    """Everything llamadash needs to know that is not a profile."""

    models_dir: Path = Path("models")
    """Where GGUF files live; a relative path is relative to models.conf's folder."""
    runtime: str = "auto"
    """``compose``, ``process`` or ``auto`` (compose when a Docker engine answers)."""
    port: int = 8080
    """Port llama-server listens on (always bound to 127.0.0.1 on the host)."""
    project_dir: Path = Path(".")
    """Folder holding compose.yaml and .env; relative to models.conf's folder."""
    compose_files: tuple[str, ...] = ()
    """Compose files; empty means compose.yaml, plus compose.cpu.yaml when there is no GPU."""
    docker_host: str = ""
    """The Docker engine: a URL (``unix://``, ``tcp://``, ``ssh://``) or a docker context name;
    empty: $DOCKER_HOST, else $DOCKER_CONTEXT, else the docker CLI's current context."""
    project_name: str = "llamadash"
    """Compose project name (one owner lock per project)."""
    image: str = ""
    """Image override written to .env as LLAMA_IMAGE (empty: compose.yaml's default)."""
    llama_server: str = ""
    """llama-server binary for the process runtime (empty: $LLAMA_SERVER, PATH, demo extra)."""
    api_host: str = "127.0.0.1"
    """Side API bind address; anything but loopback needs api_token."""
    api_port: int = 8081
    """Side API port."""
    api_token: str = ""
    """Bearer token the side API demands when set (required off loopback)."""
    stop_grace: float = 3.0
    """Seconds between the second SIGTERM and SIGKILL when stopping a server."""
    switch_timeout: float = 900.0
    """Default seconds a blocking API/CLI switch waits before answering 504."""
    default_profile: str = ""
    """Profile start.sh picks without asking (no GPU, or no terminal to ask on)."""
    max_instances: int = 1
    """Servers that may run at once (core/pool.py); 1 = the foreground one only."""
    port_range: str = "8100-8199"
    """Ports for instances started alongside the foreground one (which keeps ``port``)."""
    memory_budget: str = "auto"
    """What all instances may use: a size (``20GiB``) or auto (free VRAM, else available RAM)."""
    memory_reserve: str = "1GiB"
    """Kept free out of an auto budget (the desktop, the CUDA context, the page cache)."""
    kv_cache_budget: str = "20GiB"
    """Disk the saved prompt caches may take (least recently used removed first)."""
    max_restarts: int = 0
    """Restarts of an instance that crashed (with backoff) before it is left failed."""
    on_demand: bool = True
    """Requests to /v1/* may start or swap the model they name (core/demand.py)."""
    queue_limit: int = 64
    """Requests that may wait per model while it loads; past it they get 429."""
    max_wait: float = 60.0
    """Seconds a request waits for another model's requests to finish before a swap (then 503)."""
    preempt: bool = False
    """After ``max_wait``, swap anyway, cutting the requests still in flight."""
    manual_hold: float = 300.0
    """Seconds after a person's switch (m, CLI, /switch) during which requests cannot undo it."""
    batch_window: float = 1.0
    """Seconds newly arrived requests for the running model may still join before a swap."""
    proxy_port: int = 0
    """A port serving only the OpenAI-compatible endpoints too (0: only the API port)."""
    web_host: str = "127.0.0.1"
    """``llamadash web``'s bind address; anything but loopback needs web_token."""
    web_port: int = 8090
    """``llamadash web``'s port (the dashboard in a browser)."""
    web_token: str = ""
    """Token ``llamadash web`` demands when set (required off loopback)."""
    loading_state: bool = False
    """A streamed /v1 request waiting for its model gets the load's stages first (per request:
    ``X-Loading-State: 1`` or ``0``)."""
    state_dir: Path = field(default_factory=_state_home)
    """Where state, locks and logs live (XDG state dir)."""

    @property
    def ports(self) -> range:
        """The ``port_range`` as a range (checked by load_settings)."""
        low, high = (int(part) for part in self.port_range.split("-"))
        return range(low, high + 1)

    @property
    def api_url(self) -> str:
        """The side API's base URL."""
        return f"http://{self.api_host}:{self.api_port}"


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def load_settings(
    profiles: ProfileSet,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build Settings from models.conf, the environment and flags (None flags are ignored).

    Raises:
        ConfigError: an unknown or malformed setting, naming where it came from.
    """
    environ = os.environ if environ is None else environ
    raw: dict[str, tuple[str, str, int | None]] = {}
    for entry in profiles.settings:
        if entry.key not in _FIELDS:
            raise ConfigError(profiles.path, entry.line, "unknown setting", key=entry.key)
        raw[entry.key] = (entry.value, str(profiles.path), entry.line)
    for name in _FIELDS:
        env_name = f"LLAMADASH_{name.upper()}"
        if env_name in environ:
            raw[name] = (environ[env_name], f"${env_name}", None)
    values: dict[str, Any] = {k: coerce_setting(k, *v) for k, v in raw.items()}
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    base = profiles.path.parent
    for name in ("models_dir", "project_dir"):
        path = Path(values.get(name, _FIELDS[name].default)).expanduser()
        values[name] = path if path.is_absolute() else (base / path).resolve()
    settings = Settings(**values)
    if settings.runtime not in ("auto", "compose", "process"):
        raise ConfigError(
            "runtime", None, f"want auto, compose or process, got {settings.runtime!r}"
        )
    check_pool(settings)
    return settings


def check_pool(settings: Settings) -> None:
    """The pool settings: a count, a port range, sizes (what a user writes wrong first).

    Raises:
        ConfigError: naming the setting and what a right value looks like.
    """
    if settings.max_instances < 1:
        raise ConfigError("max_instances", None, f"want 1 or more, got {settings.max_instances}")
    low, dash, high = settings.port_range.partition("-")
    if not (dash and low.strip().isdigit() and high.strip().isdigit()) or not (
        1024 <= int(low) <= int(high) <= 65535
    ):
        raise ConfigError(
            "port_range", None, f"want LOW-HIGH within 1024-65535, got {settings.port_range!r}"
        )
    for name in ("queue_limit", "max_wait", "manual_hold", "batch_window", "proxy_port"):
        if getattr(settings, name) < 0:
            raise ConfigError(name, None, f"want 0 or more, got {getattr(settings, name)}")
    if settings.max_restarts < 0:
        raise ConfigError("max_restarts", None, f"want 0 or more, got {settings.max_restarts}")
    for name in ("memory_budget", "memory_reserve", "kv_cache_budget"):
        value = getattr(settings, name)
        if value == _FIELDS[name].default:  # the CLI's fast path never loads the parser
            continue
        from llamadash.core.memory import parse_size

        try:
            parse_size(value)
        except ValueError as exc:
            or_auto = " (or auto)" if name == "memory_budget" else ""
            raise ConfigError(name, None, f"{exc}{or_auto}") from None


def coerce_setting(name: str, value: str, where: str, line: int | None) -> Any:
    """``value`` as the type of the setting ``name`` (``where``/``line`` name its source).

    Raises:
        ConfigError: a value of the wrong kind.
    """
    kind = _FIELDS[name].type
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "bool":
            return parse_bool(value)
        if kind == "Path":
            return Path(value)
        if kind == "tuple[str, ...]":
            return tuple(part.strip() for part in value.split(",") if part.strip())
    except ValueError:
        want = "true or false" if kind == "bool" else kind
        raise ConfigError(where, line, f"bad value {value!r} (want {want})", key=name) from None
    return value


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def parse_bool(value: str) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (any case).

    Raises:
        ValueError: anything else.
    """
    lowered = value.strip().lower()
    if lowered in _TRUE | _FALSE:
        return lowered in _TRUE
    raise ValueError(value)
