"""Compose runtime: ``docker compose`` (CLI plugin) for up, the Docker SDK for everything else."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llamadash.core.envfile import join_args, write_env
from llamadash.core.owned import HOST_FLAG, PORT_FLAG, SLOT_SAVE_FLAG
from llamadash.core.profiles import CONTAINER_KV_DIR, CONTAINER_MODELS_DIR
from llamadash.core.runtime.base import (
    EngineUnavailableError,
    HelpSource,
    LaunchSpec,
    Observation,
    RuntimeFailure,
)
from llamadash.core.runtime.docker_calls import (
    engine_error,
    image_help,
    parse_time,
    quiet,
    reload_running,
    run_compose,
    split_stamp,
    timestamp_key,
    wait_exit,
    write_gpu_override,
)
from llamadash.core.runtime.docker_events import EventWatch
from llamadash.core.runtime.docker_host import connect, engine_address, engine_environ
from llamadash.core.runtime.signals import escalate_stop

SERVICE = "llama-server"
PROFILE_LABEL = "io.llamadash.profile"
SERVICE_LABEL = "com.docker.compose.service"


class ComposeRuntime:
    """llama-server as the ``llama-server`` service of a Compose project.

    ``docker_host`` (models.conf's; a URL or a docker context name, "" for the environment's)
    names the engine, for the SDK and the compose CLI alike (core/runtime/docker_host.py).

    Raises:
        ContextError: the docker context named is unusable.
    """

    name = "compose"
    endpoint_host = "127.0.0.1"
    watch_interval = 1.0
    """Seconds between the owner's checks for outside changes: a look (two Docker API calls)
    only after a container event (``changed``)."""
    last_stop = ""
    """The signal the last stop needed: SIGTERM, "SIGTERM x2" or SIGKILL (for tests, logs)."""
    sdk_timeout = 10.0  # seconds per Docker API call ([host]s: less, a dead host shows fast)

    def __init__(
        self,
        project_dir: Path,
        compose_files: tuple[str, ...],
        project_name: str = "llamadash",
        env_file: Path | None = None,
        docker_host: str = "",
    ) -> None:
        self.docker_host = docker_host
        self.environ = engine_environ(docker_host)  # ours, the engine resolved: the CLI's
        self.project_dir = project_dir
        self.compose_files = compose_files
        self.project_name = project_name
        self.env_file = env_file or project_dir / ".env"
        self._docker: Any = None
        self._config: dict[str, Any] | None = None
        self._positions: dict[str, str] = {}
        self._events: EventWatch | None = None

    # --- the Docker SDK -------------------------------------------------------------------
    def client(self) -> Any:
        """A docker SDK client (created once).

        Raises:
            EngineUnavailableError: the engine does not answer.
        """
        if self._docker is None:
            self._docker = connect(self.environ, self.sdk_timeout)
        return self._docker

    def _labels(self) -> list[str]:
        return [f"com.docker.compose.project={self.project_name}", f"{SERVICE_LABEL}={SERVICE}"]

    def changed(self) -> bool:
        """Whether the container may have changed since the last call (docker events).

        Never blocks: until a look has made the client, yes (that look makes it).
        """
        if self._events is None:
            if self._docker is None:
                return True
            self._events = EventWatch(self._docker, self._labels())
        return self._events.take_change()

    def _container(self) -> Any | None:
        """The service's newest container, or None."""
        try:
            found = self.client().containers.list(all=True, filters={"label": self._labels()})
        except EngineUnavailableError:
            raise
        except Exception as exc:
            raise EngineUnavailableError(engine_error(exc, engine_address(self.environ))) from None
        return max(found, key=lambda c: c.attrs.get("Created", "")) if found else None

    def observe(self) -> Observation:
        """What the engine says about the service's container now."""
        container = self._container()
        if container is None:
            return Observation(state="absent")
        attrs = container.attrs
        state = attrs.get("State", {})
        return Observation(
            state=state.get("Status", "unknown"),
            ident=container.id,
            exit_code=state.get("ExitCode") if state.get("Status") == "exited" else None,
            started_at=parse_time(state.get("StartedAt", "")),
            args=tuple(attrs.get("Config", {}).get("Cmd") or ()),
            profile_id=(attrs.get("Config", {}).get("Labels") or {}).get(PROFILE_LABEL, ""),
            pid=state.get("Pid") or None,
        )

    # --- lifecycle ------------------------------------------------------------------------
    def command(self, spec: LaunchSpec) -> tuple[str, ...]:
        """The arguments the container will run, as ``docker inspect`` will show them."""
        host = "127.0.0.1" if self.host_network() else "0.0.0.0"
        return (HOST_FLAG[0], host, PORT_FLAG[0], str(spec.port), *self._profile_args(spec))

    def _service_config(self) -> dict[str, Any]:
        """The service as ``docker compose config`` renders it from the files actually used.

        Read once; a failure is not cached (the files may be fixed before the next call).
        """
        if self._config is None:
            try:
                config = json.loads(self.compose("config", "--format", "json", timeout=30))
            except (RuntimeFailure, ValueError):
                return {}
            service = config.get("services", {}).get(SERVICE, {})
            self._config = service if isinstance(service, dict) else {}
        return self._config

    def host_network(self) -> bool:
        """Whether the service uses host networking (llama-server binds 127.0.0.1 then)."""
        return self._service_config().get("network_mode") == "host"

    def reserves_gpus(self) -> bool:
        """Whether the compose files reserve GPU devices (compose.yaml without the CPU file)."""
        reservations = self._service_config().get("deploy", {}).get("resources", {})
        return bool(reservations.get("reservations", {}).get("devices"))

    def files_for(self, spec: LaunchSpec) -> tuple[str, ...]:
        """The compose files for ``spec``: with a profile's ``gpus``, an override naming them.

        The override (next to the env file, ours) replaces compose.yaml's ``count: all``
        reservation by ``device_ids``; where no GPU is reserved (the CPU file) there is none.
        """
        if not spec.profile.gpus or not self.reserves_gpus():
            return self.compose_files
        override = self.env_file.with_name(f"{self.project_name}.gpus.yaml")
        write_gpu_override(override, SERVICE, spec.profile.gpus)
        return (*self.compose_files, str(override))

    def env_values(self, spec: LaunchSpec) -> dict[str, str]:
        """The .env variables compose.yaml reads for ``spec``."""
        values = {
            "LLAMADASH_PROFILE": spec.profile.id,
            "LLAMA_MODELS_DIR": str(spec.models_dir),
            "LLAMA_PORT": str(spec.port),
            "LLAMA_STOP_GRACE": f"{spec.grace:g}s",
            "LLAMA_ARGS": join_args(self._profile_args(spec)),
        }
        extra = {"LLAMA_KV_DIR": str(spec.kv_dir or ""), "LLAMA_IMAGE": spec.image}
        values |= {name: value for name, value in extra.items() if value}
        return values

    def _profile_args(self, spec: LaunchSpec) -> tuple[str, ...]:
        model = spec.model_path
        try:
            inside = model.resolve().relative_to(spec.models_dir.resolve())
        except ValueError:
            raise RuntimeFailure(
                f"model {model} is outside the models dir {spec.models_dir}, which is all the"
                " container can see: move it there or set models_dir in models.conf"
            ) from None
        args = spec.profile.server_args(f"{CONTAINER_MODELS_DIR}/{inside.as_posix()}")
        return (*args, SLOT_SAVE_FLAG[0], f"{CONTAINER_KV_DIR}/") if spec.kv_dir else args

    def start(self, spec: LaunchSpec) -> Observation:
        """Regenerate .env and ``docker compose up -d``."""
        if spec.kv_dir is not None:
            spec.kv_dir.mkdir(parents=True, exist_ok=True)
        write_env(self.env_file, self.env_values(spec))
        self.compose(
            "up", "-d", "--no-build", "--remove-orphans", SERVICE, files=self.files_for(spec)
        )
        return self.observe()

    def stop(self, grace: float, busy: bool = True) -> Observation:
        """Signal the container (TERM, TERM, KILL after grace), wait, then remove it."""
        container = self._container()
        if container is None:
            return Observation(state="absent")
        if container.status in ("running", "restarting", "paused"):
            self.last_stop = escalate_stop(
                send=lambda sig: quiet(container.kill, signal=sig),
                alive=lambda: reload_running(container),
                grace=grace,
                wait_exit=lambda seconds: wait_exit(container, seconds),
                busy=busy,
            )
        last = self.observe()
        quiet(container.remove, force=True)
        return last

    def compose(
        self, *args: str, timeout: float = 600, files: tuple[str, ...] | None = None
    ) -> str:
        """Run ``docker compose`` for this project (core/runtime/docker_calls.py)."""
        used = self.compose_files if files is None else files
        where = (self.project_name, self.project_dir, self.env_file, used)
        return run_compose(*where, *args, timeout=timeout, environ=self.environ)

    def help_source(self, spec: LaunchSpec) -> HelpSource | str:
        """Key: the image id; help: ``docker run --rm IMAGE --help`` with no network."""
        return image_help(self.client, spec.image or self._image_from_config())

    def _image_from_config(self) -> str:
        try:
            out = self.compose("config", "--images", timeout=30)
        except RuntimeFailure:
            return ""
        return out.strip().splitlines()[0] if out.strip() else ""

    # --- logs -----------------------------------------------------------------------------
    def follow_logs(
        self, ident: str, tail: int | None = None, after: str | None = None
    ) -> Iterator[str]:
        """Yield the container's log lines until it exits.

        All of them, the last ``tail``, or those after the timestamp ``after`` (a position
        ``log_position`` gave). The engine adds a timestamp to each line; it is cut off here
        and kept as the position.
        """
        since = timestamp_key(after) if after else None
        try:
            container = self.client().containers.get(ident)
            options: dict[str, Any] = {"tail": "all" if tail is None or since else tail}
            if since is not None:
                options["since"] = since[0]  # whole seconds: lines up to ``after`` skipped below
            stream = container.logs(stream=True, follow=True, timestamps=True, **options)
        except Exception:
            return
        self._positions = {ident: after or ""}
        pending = b""
        for chunk in stream:
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                if (line := self._unstamp(ident, raw, since)) is not None:
                    yield line
        if pending and (line := self._unstamp(ident, pending, since)) is not None:
            yield line

    def _unstamp(self, ident: str, raw: bytes, since: tuple[int, int] | None) -> str | None:
        key, stamp, text = split_stamp(raw.decode("utf-8", "replace").rstrip("\r"))
        if key is not None and since is not None and key <= since:
            return None  # read before
        if key is not None:
            self._positions[ident] = stamp
        return text

    def log_position(self, ident: str) -> str:
        """The engine timestamp of the last line ``follow_logs`` yielded for ``ident``."""
        return self._positions.get(ident, "")

    def log_tail(self, ident: str, lines: int) -> list[str]:
        """The container's last ``lines`` log lines."""
        try:
            raw = self.client().containers.get(ident).logs(tail=lines)
        except Exception:
            return []
        return bytes(raw).decode("utf-8", "replace").splitlines()

    def close(self) -> None:
        """End the event stream and close the SDK client."""
        events, self._events = self._events, None
        if events is not None:
            events.stop()
        if self._docker is not None:
            self._docker, client = None, self._docker
            client.close()
