"""Docker calls the compose runtime makes (SDK and CLI), each turning failures into answers.

A container already gone or stopped is the outcome wanted, not an error; a dead engine is
named with its address; timestamps come back as numbers.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from llamadash.core.runtime.base import EngineUnavailableError, HelpSource, RuntimeFailure
from llamadash.core.runtime.environ import compose_env


def parse_time(text: str) -> float | None:
    """An engine time (RFC 3339, nanoseconds) as unix seconds; None for "never"."""
    if not text or text.startswith("0001-"):
        return None
    # Docker gives nanoseconds; fromisoformat takes at most microseconds.
    head, _, rest = text.partition(".")
    zone = rest[rest.find("Z") :] if "Z" in rest else rest[9:]
    fraction = rest[:6] if rest else "0"
    try:
        return datetime.fromisoformat(
            f"{head}.{fraction}{zone or 'Z'}".replace("Z", "+00:00")
        ).timestamp()
    except ValueError:
        return None


def engine_error(exc: Exception, address: str) -> str:
    """One line for a failed Docker API call: a dead engine is named with its address."""
    if isinstance(exc, ConnectionError) or "Connection" in type(exc).__name__:
        return f"Docker engine stopped answering at {address}"
    return f"Docker engine error: {exc}"


def split_stamp(line: str) -> tuple[tuple[int, int] | None, str, str]:
    """A log line the engine prefixed with its timestamp → (its key, the timestamp, the text).

    A line without one comes back whole, with no key.
    """
    stamp, _, text = line.partition(" ")
    key = timestamp_key(stamp)
    return (key, stamp, text) if key is not None else (None, "", line)


def timestamp_key(stamp: str) -> tuple[int, int] | None:
    """An engine log timestamp (RFC 3339, nanoseconds) as (unix seconds, nanoseconds)."""
    if not stamp.endswith("Z") or "T" not in stamp:
        return None
    head, _, fraction = stamp[:-1].partition(".")
    try:
        seconds = datetime.fromisoformat(head + "+00:00").timestamp()
        nanos = int(fraction.ljust(9, "0")[:9]) if fraction else 0
    except ValueError:
        return None
    return int(seconds), nanos


def wait_exit(container: Any, seconds: float) -> bool:
    """Block until the container stops (the engine's wait call) or ``seconds`` pass.

    Polling inspect every 20 ms instead cost ~50 API calls a second while a model stopped,
    CPU that the side API then lacked (bench/bench_api_status.py).
    """
    try:
        container.wait(timeout=max(seconds, 0.01), condition="not-running")
    except Exception:  # the read timed out (still running), or the container is gone
        return not reload_running(container)
    return True


def reload_running(container: Any) -> bool:
    """Whether ``container`` still runs (False once the engine no longer knows it)."""
    try:
        container.reload()
    except Exception:
        return False
    return bool(container.status in ("running", "restarting", "paused"))


def image_help(client: Callable[[], Any], image_name: str) -> HelpSource | str:
    """The compose runtime's ``help_source``: the image id, and its ``--help`` run offline.

    A reason instead when the engine has no such image.
    """
    if not image_name:
        return "no image named in the compose files or models.conf"
    try:
        image = client().images.get(image_name)
    except Exception:  # not pulled yet: compose will pull it, validation is skipped
        return f"image {image_name} is not on this Docker engine yet"

    def fetch() -> str | None:
        try:
            out = client().containers.run(
                image.id, ["--help"], remove=True, network_mode="none", stderr=True
            )
        except Exception:
            return None
        return bytes(out).decode("utf-8", "replace")

    return f"image:{image.id}", fetch


def quiet(call: Any, **kwargs: Any) -> None:
    """Call ``call``; an engine error means it is already done (gone, stopped)."""
    try:
        call(**kwargs)
    except Exception:  # already gone or already stopped: the outcome is what we wanted
        return


def run_compose(
    project: str,
    project_dir: Path,
    env_file: Path,
    compose_files: tuple[str, ...],
    *args: str,
    timeout: float = 600,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Run ``docker compose`` for one project (never through a shell, never with our secrets).

    ``environ``: where the CLI's allow-listed variables come from (default: ours), so it
    drives the engine the runtime resolved (core/runtime/docker_host.py).

    Raises:
        EngineUnavailableError: no docker CLI or compose plugin, or no engine.
        RuntimeFailure: compose failed; the message carries its stderr.
    """
    files = [arg for name in compose_files for arg in ("-f", name)]
    cmd = ["docker", "compose", "-p", project, "--project-directory", str(project_dir)]
    cmd += ["--env-file", str(env_file), *files, *args]
    try:
        done = subprocess.run(  # compose_env(): no secrets, and no exported LLAMA_ARGS
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=compose_env(environ),
        )
    except FileNotFoundError:
        raise EngineUnavailableError(
            "the docker CLI is not installed (need docker + compose v2)"
        ) from None
    if done.returncode != 0:
        err = done.stderr.strip()
        if "is not a docker command" in err or "unknown command" in err:
            raise EngineUnavailableError(
                "the Docker Compose v2 plugin is missing ('docker compose')"
            )
        if "Cannot connect to the Docker daemon" in err:
            raise EngineUnavailableError(f"Docker engine unreachable: {err.splitlines()[-1]}")
        raise RuntimeFailure(f"docker compose {args[0]} failed: {err[-2000:]}")
    return done.stdout


def write_gpu_override(path: Path, service: str, device_ids: tuple[str, ...]) -> None:
    """A compose override that reserves exactly ``device_ids`` for ``service``.

    ``!override`` replaces compose.yaml's ``count: all`` reservation (a list would be merged).
    """
    ids = ", ".join(json.dumps(device) for device in device_ids)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Written by llamadash for the profile's gpus; rewritten on every start.\n"
        f"services:\n  {service}:\n    deploy:\n      resources:\n        reservations:\n"
        "          devices: !override\n            - driver: nvidia\n"
        f"              device_ids: [{ids}]\n              capabilities: [gpu]\n",
        encoding="utf-8",
    )
