"""XDG state: past load times per profile (TOML), the pool's members and the owner lock."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

TYPE_CHECKING = False  # as typing's, without importing typing: see commands/owner.py
if TYPE_CHECKING:
    from typing import Any

MAX_HISTORY = 10


class LoadHistory:
    """Load durations per profile, kept in ``state.toml`` for ETAs."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def get(self, profile_id: str) -> list[float]:
        """Past load times of ``profile_id`` in seconds, oldest first."""
        return [float(t) for t in self._read().get("load_seconds", {}).get(profile_id, [])]

    def record(self, profile_id: str, seconds: float) -> None:
        """Remember one load time (keeps the last few)."""
        import tomli_w  # here, not at the top: the CLI's forwarding path only reads the lock

        data = self._read()
        times = data.setdefault("load_seconds", {}).setdefault(profile_id, [])
        times.append(round(seconds, 3))
        del times[:-MAX_HISTORY]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(tomli_w.dumps(data).encode())
        tmp.replace(self.path)

    def _read(self) -> dict[str, Any]:
        import tomllib

        try:
            return tomllib.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, tomllib.TOMLDecodeError):
            return {}


class PoolRecord:
    """The instances started beside the foreground one (profile id → port), in a JSON file.

    A later llamadash reads it to adopt them; a member whose server is gone is dropped then.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def for_project(cls, state_dir: Path, project_name: str) -> PoolRecord:
        """The record of one project's pool under the state dir."""
        return cls(state_dir / "pool" / f"{project_name}.json")

    def members(self) -> dict[str, int]:
        """Profile id → port of every recorded instance."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        members = data.get("instances", {}) if isinstance(data, dict) else {}
        return {str(k): int(v) for k, v in members.items() if isinstance(v, int)}

    def add(self, profile_id: str, port: int) -> None:
        """Record one instance (replacing an older record of the same profile)."""
        self._write({**self.members(), profile_id: port})

    def drop(self, profile_id: str) -> None:
        """Forget one instance."""
        members = self.members()
        if members.pop(profile_id, None) is not None:
            self._write(members)

    def _write(self, members: dict[str, int]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"instances": members}, indent=1), encoding="utf-8")
        tmp.replace(self.path)


class OwnerConflictError(RuntimeError):
    """Another llamadash already drives this server."""


class OwnerLock:
    """An exclusive flock per Compose project; the file says who holds it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @classmethod
    def for_project(cls, state_dir: Path, project_name: str) -> OwnerLock:
        """The lock of one Compose project under the state dir."""
        return cls(state_dir / "locks" / f"{project_name}.lock")

    def acquire(self, api_url: str = "") -> None:
        """Take the lock or raise naming the owner.

        Raises:
            OwnerConflictError: another live process holds it.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            owner = self.owner() or {}
            api = owner.get("api") or "no API"
            raise OwnerConflictError(
                f"another llamadash (PID {owner.get('pid', '?')}, API {api}) already drives this"
                f" server; use its API or stop it first (lock: {self.path})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "api": api_url}).encode())
        self._fd = fd

    def owner(self) -> dict[str, Any] | None:
        """Who holds (or last held) the lock: ``{"pid": .., "api": ..}``, or None."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "null")
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data if isinstance(data, dict) else None

    def held_by_other(self) -> dict[str, Any] | None:
        """The owner record if another live process holds the lock, else None."""
        if self._fd is not None or not self.path.exists():
            return None
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return self.owner() or {"pid": "?", "api": ""}
        finally:
            os.close(fd)
        return None

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
