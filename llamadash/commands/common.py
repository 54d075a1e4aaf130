"""Helpers shared by the verbs: building the engine from flags, printing, the owner's API."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import httpx

from llamadash.core.context import Engine, build_engine


def engine_from(args: argparse.Namespace, *, lenient: bool = False, **overrides: Any) -> Engine:
    """Build the engine from the common flags (``lenient``: see ``build_engine``)."""
    return build_engine(
        args.models_conf,
        {"runtime": args.runtime, **overrides},
        gpu_count=gpu_count,
        lenient=lenient,
    )


def gpu_count() -> int:
    """NVIDIA GPUs (NVML), imported only when the compose files depend on it."""
    from llamadash.collectors.gpu import nvidia_gpu_count

    return nvidia_gpu_count()


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def owner_api(engine: Engine) -> str | None:
    """The API URL of another llamadash that owns this server, if one runs."""
    owner = engine.lock.held_by_other()
    if owner is None:
        return None
    return str(owner.get("api") or "") or ""


def api_headers(engine: Engine) -> dict[str, str]:
    """Authorization for the owner's API when a token is configured."""
    token = engine.settings.api_token
    return {"Authorization": f"Bearer {token}"} if token else {}


def api_call(engine: Engine, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request to the owner's API (loopback by default)."""
    timeout = kwargs.pop("timeout", 30.0)
    with httpx.Client(timeout=timeout, headers=api_headers(engine)) as client:
        return client.request(method, url, **kwargs)
