"""Prompt caches kept across switches: each slot's KV cache saved at a stop, restored at a start.

llama-server saves and restores a slot (``POST /slots/{id}?action=save|restore``) into the
folder ``--slot-save-path`` names. llamadash gives every server one folder per project and
names each file after the profile and a key of what it ran (its arguments without host, port
and that folder, and the model file's size and time): a server started with the same model and
arguments gets the cache back before it is reported ready; any other finds nothing to restore.
A failed save or restore is logged and skipped, never fatal. The folder is kept within
``kv_cache_budget``, least recently used files removed first.

Models with sliding-window attention (Gemma 3) reuse a restored cache only when they run with
``--swa-full`` (measured: 1,501 of 1,502 tokens reused with it, none without).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from llamadash.core.gguf_header import read_metadata
from llamadash.core.http1 import LoopbackHttpError, request
from llamadash.core.memory_book import args_hash

log = logging.getLogger(__name__)
SLOT_SAVE_FLAG = "--slot-save-path"
SAVE_TIMEOUT = 10.0  # seconds per slot: a stop never waits longer for one
_NOT_KEY = ("--port", "--host", SLOT_SAVE_FLAG)
_FILE = re.compile(r"^(?P<profile>.+)-(?P<key>[0-9a-f]{16})-slot(?P<slot>\d+)\.bin$")


@dataclass(frozen=True)
class CacheResult:
    """What a save or restore did: tokens moved, and why nothing was (when nothing was)."""

    tokens: int = 0
    slots: int = 0
    skipped: str = ""


def cache_key(args: Sequence[str], model_identity: str) -> str:
    """The key of one way of running one model (what the server observed runs with)."""
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg.split("=", 1)[0] in _NOT_KEY:
            skip = "=" not in arg
        else:
            kept.append(arg)
    return args_hash(kept, model_identity)


@functools.cache
def _sliding(path: Path, mtime_ns: int) -> bool:
    try:
        meta = read_metadata(path)
    except ValueError:
        return False
    arch = str(meta.get("general.architecture", ""))
    return bool(meta.get(f"{arch}.attention.sliding_window"))


def reuse_blocker(model: Path, args: Sequence[str]) -> str:
    """Why a saved cache would never be reused by a server of ``model`` and ``args`` ('').

    Sliding-window layers keep only their window unless ``--swa-full``: a restored slot then
    matches no prefix (Gemma 3: 0 of 1,502 tokens reused).
    """
    if "--swa-full" in args:
        return ""
    try:
        sliding = _sliding(model, model.stat().st_mtime_ns)
    except OSError:
        return ""
    return "the model uses sliding-window attention: add --swa-full to its extra" if sliding else ""


class CacheStore:
    """One project's folder of saved slots, under a disk budget."""

    def __init__(self, folder: Path, budget: int) -> None:
        self.folder = folder
        self.budget = budget

    def _name(self, profile_id: str, key: str, slot: int) -> str:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", profile_id)
        return f"{safe}-{key}-slot{slot}.bin"

    def saved(self, profile_id: str, key: str) -> dict[int, Path]:
        """Slot id → saved file for this profile and key."""
        found = {}
        for path in self.folder.glob(f"{self._name(profile_id, key, 0)[:-9]}slot*.bin"):
            match = _FILE.match(path.name)
            if match is not None and match["key"] == key:
                found[int(match["slot"])] = path
        return found

    async def save(self, port: int, profile_id: str, key: str) -> CacheResult:
        """Save every slot of the server on ``port`` that holds tokens."""
        slots = await asyncio.to_thread(_slots, port)
        if slots is None:
            return CacheResult(skipped="/slots did not answer")
        used = [_int(s.get("id")) for s in slots if "id_task" in s and isinstance(s.get("id"), int)]
        tokens = count = 0
        for slot in used:
            name = self._name(profile_id, key, slot)
            answer = await asyncio.to_thread(_slot_action, port, slot, "save", name)
            if answer is None:
                log.warning("saving slot %s of %s failed: the server refused", slot, profile_id)
                continue
            if not _int(answer.get("n_saved")):  # served a request but kept no prompt
                (self.folder / name).unlink(missing_ok=True)
                continue
            tokens += _int(answer.get("n_saved"))
            count += 1
        if count:
            await asyncio.to_thread(self.prune)
        return CacheResult(tokens, count, "" if used else "no slot held tokens")

    async def restore(self, port: int, profile_id: str, key: str) -> CacheResult:
        """Restore what was saved for this profile and key into the server on ``port``."""
        files = self.saved(profile_id, key)
        if not files:
            return CacheResult(skipped="nothing saved for these arguments")
        slots = await asyncio.to_thread(_slots, port)
        ids = {s.get("id") for s in slots or []}
        tokens = count = 0
        for slot, path in sorted(files.items()):
            if slot not in ids:
                continue
            answer = await asyncio.to_thread(_slot_action, port, slot, "restore", path.name)
            if answer is None or not _int(answer.get("n_restored")):
                log.warning("cache %s could not be restored: removed", path.name)
                path.unlink(missing_ok=True)
                continue
            path.touch()  # recently used: pruned last
            tokens += _int(answer.get("n_restored"))
            count += 1
        return CacheResult(tokens, count, "" if count else "the saved cache did not restore")

    def prune(self) -> list[Path]:
        """Remove the least recently used files until the folder fits the budget."""
        files = sorted(self.folder.glob("*.bin"), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        removed = []
        while files and total > self.budget:
            oldest = files.pop(0)
            total -= oldest.stat().st_size
            oldest.unlink(missing_ok=True)
            removed.append(oldest)
        return removed


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _slots(port: int) -> list[dict[str, object]] | None:
    try:
        reply = request("127.0.0.1", port, "GET", "/slots", timeout=5)
        data = json.loads(reply.body) if reply.status == 200 else None
    except (LoopbackHttpError, ValueError):
        return None
    return [s for s in data if isinstance(s, dict)] if isinstance(data, list) else None


def _slot_action(port: int, slot: int, action: str, name: str) -> dict[str, object] | None:
    body = json.dumps({"filename": name}).encode()
    headers = {"Content-Type": "application/json"}
    try:
        reply = request(
            "127.0.0.1",
            port,
            "POST",
            f"/slots/{slot}?action={action}",
            body=body,
            headers=headers,
            timeout=SAVE_TIMEOUT,
        )
        data = json.loads(reply.body) if reply.status == 200 else None
    except (LoopbackHttpError, ValueError):
        return None
    return data if isinstance(data, dict) else None
