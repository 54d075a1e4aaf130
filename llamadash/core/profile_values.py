"""A models.conf profile value → its typed value, with errors that name file:line:key."""

from __future__ import annotations

import math
import shlex
from pathlib import Path

from llamadash.core.flags import flag_name
from llamadash.core.inifile import ConfigError, Entry
from llamadash.core.owned import OWNED_FLAGS

INT_KEYS = ("ctx", "ngl", "batch", "ubatch", "threads", "parallel")
BOOL_KEYS = ("bench", "pin", "keep_cache")
TRUE_WORDS = ("true", "yes", "1", "on")
FALSE_WORDS = ("false", "no", "0", "off")


def convert(entry: Entry, path: Path | str) -> object:
    """The typed value of one profile key (the key is known: checked before).

    Raises:
        ConfigError: naming the file, line and key, and what a right value looks like.
    """
    if entry.key in (*INT_KEYS, "port", "timeout", "ttl"):
        return _number(entry, path)
    if entry.key in BOOL_KEYS:
        lowered = entry.value.lower()
        if lowered not in (*TRUE_WORDS, *FALSE_WORDS):
            raise ConfigError(
                path, entry.line, f"want true or false, got {entry.value!r}", entry.key
            )
        return lowered in TRUE_WORDS
    if entry.key == "gpus":
        return _gpus(entry, path)
    if entry.key == "hf":
        return _model_ref(entry, path)
    if entry.key == "extra":
        try:
            args = tuple(shlex.split(entry.value))
        except ValueError as exc:
            raise ConfigError(path, entry.line, f"cannot split flags: {exc}", entry.key) from None
        refuse_owned(args, entry, path)
        return args
    return entry.value


def _model_ref(entry: Entry, path: Path | str) -> str:
    """``user/repo:QUANT`` in any accepted spelling, kept as written."""
    from llamadash.core.model_ref import BadReferenceError, parse_ref  # only an hf key needs it

    try:
        parse_ref(entry.value)
    except BadReferenceError as exc:
        raise ConfigError(path, entry.line, str(exc), entry.key) from None
    return entry.value


def _number(entry: Entry, path: Path | str) -> int | float:
    """Whole numbers (the int keys, port) and seconds (timeout, ttl), range-checked."""
    if entry.key in ("timeout", "ttl"):
        seconds = _seconds(entry, path)
        if entry.key == "ttl" and not (0 <= seconds < math.inf):
            raise ConfigError(path, entry.line, "want seconds >= 0 (0 = never)", entry.key)
        if entry.key == "timeout" and not (0 < seconds < math.inf):  # nan never times out
            raise ConfigError(path, entry.line, "must be a positive number", entry.key)
        return seconds
    number = _int(entry, path)
    if entry.key == "port" and not 1024 <= number <= 65535:
        raise ConfigError(path, entry.line, f"want a port 1024-65535, got {number}", entry.key)
    if entry.key != "port" and number < (-1 if entry.key == "ngl" else 1):
        raise ConfigError(path, entry.line, f"out of range: {number}", entry.key)
    return number


def _int(entry: Entry, path: Path | str) -> int:
    try:
        return int(entry.value)
    except ValueError:
        raise ConfigError(
            path, entry.line, f"not a whole number: {entry.value!r}", entry.key
        ) from None


def _seconds(entry: Entry, path: Path | str) -> float:
    try:
        return float(entry.value)
    except ValueError:
        raise ConfigError(
            path, entry.line, f"not a number of seconds: {entry.value!r}", entry.key
        ) from None


def _gpus(entry: Entry, path: Path | str) -> tuple[str, ...]:
    """Device ids: ``0,1`` or GPU UUIDs (what CUDA_VISIBLE_DEVICES and compose accept)."""
    ids = tuple(part.strip() for part in entry.value.split(",") if part.strip())
    for device in ids:
        if not (device.isdigit() or device.startswith(("GPU-", "MIG-"))):
            raise ConfigError(
                path,
                entry.line,
                f"not a device id: {device!r} (want numbers like 0,1 or GPU-<uuid>)",
                entry.key,
            )
    return ids


def refuse_owned(args: tuple[str, ...], entry: Entry, path: Path | str) -> None:
    """Reject any spelling of an :data:`OWNED_FLAGS` flag (``-m``, ``--host=x``, ``--api_key``)."""
    for arg in args:
        name = flag_name(arg)
        if name is not None and name in OWNED_FLAGS:
            long, why = OWNED_FLAGS[name]
            written = arg.split("=", 1)[0]
            shown = written if written == long else f"{written} ({long})"
            raise ConfigError(path, entry.line, f"{shown} {why}", entry.key)
