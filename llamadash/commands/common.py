"""Helpers shared by the verbs: building the engine from flags, printing."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

TYPE_CHECKING = False  # as typing's, without importing typing: see commands/owner.py
if TYPE_CHECKING:
    from typing import Any

    from llamadash.core.context import Engine


def default_models_conf() -> Path:
    """``$LLAMADASH_MODELS_CONF``, else ./models.conf."""
    return Path(os.environ.get("LLAMADASH_MODELS_CONF", "models.conf"))


def engine_from(args: argparse.Namespace, *, lenient: bool = False, **overrides: Any) -> Engine:
    """Build the engine from the common flags (``lenient``: see ``build_engine``).

    Imported here: the runtimes are heavy, and the forwarding fast path never needs them.
    """
    from llamadash.core.context import build_engine

    return build_engine(
        args.models_conf,
        {"runtime": args.runtime, **overrides},
        gpu_count=gpu_count,
        gpu_free=gpu_free,
        vram_of=vram_of,
        lenient=lenient,
    )


def gpu_count() -> int:
    """NVIDIA GPUs (NVML), imported only when the compose files depend on it."""
    from llamadash.collectors.gpu import nvidia_gpu_count

    return nvidia_gpu_count()


def gpu_free() -> list[int]:
    """Free VRAM per GPU (NVML), for the pool's auto memory budget."""
    from llamadash.collectors.gpu import free_vram

    return free_vram()


def vram_of(pids: set[int]) -> int | None:
    """VRAM NVML attributes to ``pids`` (a loaded server's process tree)."""
    from llamadash.collectors.gpu import vram_used_by

    return vram_used_by(pids)


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def fail(message: str, code: int) -> int:
    """Print ``message`` to stderr and return ``code``."""
    print(message, file=sys.stderr)
    return code
