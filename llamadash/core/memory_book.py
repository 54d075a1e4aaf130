"""What each profile really used after a load, kept in the state dir for the next admission.

Keyed by profile id and :func:`args_hash`, so a changed context size, cache type or model file
is a new key (estimated again until measured), while the old measurement stays for a revert.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from llamadash.core.flags import flag_name
from llamadash.core.gguf_header import model_files

if TYPE_CHECKING:
    from llamadash.core.profiles import Profile

# Measurements kept per profile (the newest): enough for a few argument variants.
KEEP_PER_PROFILE = 8
# Where the server listens does not change what it needs; leaving these out keeps one hash for
# a profile run in the foreground (port) and alongside it (a port from port_range).
_IGNORED_FLAGS = ("--port", "--host")


@dataclass(frozen=True)
class Measurement:
    """What one load really used."""

    rss: int  # bytes resident, the process and its descendants (tree_rss)
    buffers: int  # bytes of the buffers llama-server logged (BufferTally.total_bytes)
    at: float  # unix time of the measurement
    vram: int | None = None  # bytes NVML attributes to the process, where there is a GPU
    source: Literal["measured"] = "measured"

    @property
    def expected(self) -> int:
        """What admission should compare: VRAM where measured, else the larger of RSS and buffers.

        RSS right after a load can miss allocated pages not yet touched; the buffers miss the
        process itself; the larger one is the safer figure.
        """
        return self.vram if self.vram is not None else max(self.rss, self.buffers)


def model_identity(model_path: Path) -> str:
    """Size and mtime of the model file(s): a replaced file (same name) is a new identity.

    Raises:
        ValueError: a part of a split model is missing.
        OSError: the file cannot be stat'ed.
    """
    parts = []
    for part in model_files(model_path):
        stat = part.stat()
        parts.append(f"{stat.st_size}:{stat.st_mtime_ns}")
    return ",".join(parts)


def args_hash(args: Sequence[str], model_identity: str) -> str:
    """A short, stable key for one way of running one model file (16 hex digits of sha256).

    ``--port``/``--host`` and their values are left out (see ``_IGNORED_FLAGS``).
    """
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if flag_name(arg) in _IGNORED_FLAGS:
            skip = "=" not in arg
            continue
        kept.append(arg)
    digest = hashlib.sha256("\0".join([model_identity, *kept]).encode())
    return digest.hexdigest()[:16]


def profile_key(profile: Profile, models_dir: Path) -> str:
    """The :func:`args_hash` of a profile as models.conf says to run it, on any port.

    Raises:
        ValueError: a part of a split model is missing.
        OSError: the model file cannot be stat'ed.
    """
    path = profile.model_path(models_dir)
    return args_hash(profile.server_args(str(path)), model_identity(path))


class MemoryBook:
    """Measurements per profile and args hash, in a TOML file (``[memory.<profile>.<hash>]``).

    Other tables of the same file are kept as they are, so it may share ``state.toml``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def get(self, profile_id: str, key: str) -> Measurement | None:
        """The measurement recorded for ``profile_id`` under ``key``, or None."""
        entries = self._read()["memory"].get(profile_id)
        entry = entries.get(key) if isinstance(entries, dict) else None
        if not isinstance(entry, dict):
            return None
        try:
            vram = entry.get("vram")
            return Measurement(
                rss=int(entry["rss"]),
                buffers=int(entry["buffers"]),
                at=float(entry["at"]),
                vram=None if vram is None else int(vram),
            )
        except (KeyError, TypeError, ValueError):
            return None  # a hand-edited or older entry: measured again on the next load

    def record(self, profile_id: str, key: str, measurement: Measurement) -> None:
        """Store one measurement (replacing the key's previous one; old keys are dropped)."""
        import tomli_w  # here, not at the top: the CLI's forwarding path only reads the lock

        data = self._read()
        entries = data["memory"].get(profile_id)
        if not isinstance(entries, dict):
            entries = data["memory"][profile_id] = {}
        entry: dict[str, Any] = {
            "rss": measurement.rss,
            "buffers": measurement.buffers,
            "at": measurement.at,
        }
        if measurement.vram is not None:
            entry["vram"] = measurement.vram
        entries.pop(key, None)
        entries[key] = entry
        newest = sorted(entries, key=lambda k: _at(entries[k]), reverse=True)
        for stale in newest[KEEP_PER_PROFILE:]:
            del entries[stale]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A tmp name of our own: another writer of the same file must not rename ours.
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(tomli_w.dumps(data).encode())
        tmp.replace(self.path)

    def _read(self) -> dict[str, Any]:
        import tomllib

        try:
            data = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, tomllib.TOMLDecodeError):
            data = {}
        if not isinstance(data.get("memory"), dict):
            data["memory"] = {}
        return data


def _at(entry: Any) -> float:
    try:
        return float(entry["at"])
    except (KeyError, TypeError, ValueError):
        return 0.0
