"""Which Docker engine to talk to, resolved once for both the SDK and the compose CLI.

The docker CLI (and so ``docker compose``) follows contexts; the Python SDK only reads
DOCKER_HOST. Left alone they can drive two different engines. So the engine is resolved here
the CLI's way — models.conf's ``docker_host`` (a URL or a context name), else DOCKER_HOST,
else DOCKER_CONTEXT, else the config's ``currentContext``, else the default socket — and
both clients get the same DOCKER_HOST (plus TLS variables for a context that has them).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llamadash.core.runtime.base import EngineUnavailableError

__all__ = ["DEFAULT_SOCKET", "ContextError", "connect", "engine_address", "engine_environ"]

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
_ENGINE_VARIABLES = ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")


class ContextError(ValueError):
    """A docker context that cannot be used (unknown name, unreadable metadata)."""


def _config_dir(environ: Mapping[str, str]) -> Path:
    configured = environ.get("DOCKER_CONFIG")
    return (
        Path(configured) if configured else Path(environ.get("HOME", "~")).expanduser() / ".docker"
    )


def _current_context(environ: Mapping[str, str]) -> str:
    """The config file's ``currentContext`` ("" when unset or unreadable)."""
    try:
        config = json.loads((_config_dir(environ) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    current = config.get("currentContext") if isinstance(config, dict) else None
    return current if isinstance(current, str) else ""


def _context_variables(name: str, environ: Mapping[str, str]) -> dict[str, str]:
    """DOCKER_HOST (and TLS variables) of the context ``name``, read as the docker CLI does.

    Raises:
        ContextError: no such context, or its metadata has no docker endpoint.
    """
    if name == "default":
        return {"DOCKER_HOST": DEFAULT_SOCKET}
    digest = hashlib.sha256(name.encode()).hexdigest()
    contexts = _config_dir(environ) / "contexts"
    meta = contexts / "meta" / digest / "meta.json"
    try:
        endpoint = json.loads(meta.read_text(encoding="utf-8"))["Endpoints"]["docker"]
        host = endpoint["Host"]
    except FileNotFoundError:
        raise ContextError(
            f"no docker context named {name!r} (`docker context ls` lists them)"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ContextError(f"docker context {name!r} is unreadable ({meta}: {exc})") from None
    found = {"DOCKER_HOST": str(host)}
    tls = contexts / "tls" / digest / "docker"
    if (tls / "ca.pem").is_file() or (tls / "cert.pem").is_file():
        found["DOCKER_CERT_PATH"] = str(tls)
        if not endpoint.get("SkipTLSVerify"):
            found["DOCKER_TLS_VERIFY"] = "1"
    return found


def engine_environ(
    docker_host: str = "", environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``environ`` (default: ours) with the engine variables naming the engine to use.

    ``docker_host`` (models.conf) wins; a value with ``://`` is an address, anything else a
    context name. A URL keeps the exported TLS variables (they are for it); a context brings
    its own. DOCKER_CONTEXT is never passed on: the resolved DOCKER_HOST already says it.

    Raises:
        ContextError: the context named (by docker_host, DOCKER_CONTEXT or the config) is unusable.
    """
    source = dict(os.environ if environ is None else environ)
    chosen = docker_host.strip()
    result = {k: v for k, v in source.items() if k != "DOCKER_CONTEXT"}
    if "://" in chosen:
        return result | {"DOCKER_HOST": chosen}
    if not chosen and source.get("DOCKER_HOST"):
        return result
    context = chosen or source.get("DOCKER_CONTEXT") or _current_context(source)
    if not context:
        return result
    cleared = {k: v for k, v in result.items() if k not in _ENGINE_VARIABLES}
    return cleared | _context_variables(context, source)


def engine_address(environ: Mapping[str, str]) -> str:
    """The engine ``environ`` (an ``engine_environ`` result) points at, for messages."""
    return environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def connect(environ: Mapping[str, str], timeout: float = 10) -> Any:
    """A docker SDK client for the engine ``environ`` names, pinged once.

    An ``ssh://`` host goes through the ssh binary (the user's keys and config), as the CLI does.

    Raises:
        EngineUnavailableError: the engine does not answer, naming it.
    """
    import docker

    address = engine_address(environ)
    try:
        client = docker.from_env(
            environment=dict(environ), timeout=timeout, use_ssh_client=address.startswith("ssh://")
        )
        client.ping()
    except Exception as exc:
        raise EngineUnavailableError(
            f"Docker engine unreachable at {address} ({exc}). Is dockerd running there, and is"
            " docker_host (or DOCKER_HOST) right? Or use --runtime process."
        ) from exc  # the cause's kind is what `doctor` reports
    return client
