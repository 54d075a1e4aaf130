"""Docker Compose service container collector (docker SDK); an unreachable engine is a state."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from docker.errors import APIError, NotFound

from llamadash.collectors.docker_stats import StatsStream
from llamadash.core.runtime.docker_events import EventWatch

__all__ = ["ContainerCollector", "ContainerSnapshot"]

# A stats sample older than this (stalled stream) is not shown.
_STALE_S = 10.0
# Inspect at least this often even without events (a missed event heals itself).
_RECHECK_S = 30.0

_Found = tuple[Any, Mapping[str, Any]] | None


@dataclass(frozen=True)
class ContainerSnapshot:
    """The service's container at one instant; ``present=False`` when there is none."""

    present: bool
    name: str | None = None
    id: str | None = None
    state: str | None = None
    health: str | None = None
    started_at: float | None = None
    uptime_s: float | None = None
    restarts: int | None = None
    exit_code: int | None = None
    cpu_pct: float | None = None
    cpus: int | None = None
    mem_used: int | None = None
    mem_limit: int | None = None
    image: str | None = None
    at: float = 0.0
    error: str | None = None


def _timestamp(value: Any) -> float | None:
    """An engine time (ISO 8601 string or epoch seconds) as epoch seconds; None if unset."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value > 0 else None
    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None
    return stamp if stamp > 0 else None  # "0001-01-01T00:00:00Z" means "never"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class ContainerCollector:
    """Finds the Compose service's container and reports its state and resource use.

    CPU and memory come from a background ``docker stats`` stream per container (a one-shot
    ``stats`` call takes over a second). The container is inspected again only after a
    ``docker events`` state event (or every 30 s), so a quiet ``collect()`` makes no API call.

    Args:
        client_factory: Returns a docker SDK client (called again after a failure).
        project: The Compose project name (``com.docker.compose.project`` label).
        service: The Compose service name (``com.docker.compose.service`` label).
    """

    def __init__(
        self, client_factory: Callable[[], Any], project: str, service: str = "llama-server"
    ) -> None:
        self._factory = client_factory
        self._filters = {
            "label": [
                f"com.docker.compose.project={project}",
                f"com.docker.compose.service={service}",
            ]
        }
        self._client: Any = None
        self._stream: StatsStream | None = None
        self._watch: EventWatch | None = None
        self._found: tuple[float, _Found] | None = None  # (monotonic time, what _find said)

    def _lookup(self) -> _Found:
        """``_find()``, or its last answer when no event says the container changed."""
        if self._watch is None:
            if self._client is None:
                self._client = self._factory()
            self._watch = EventWatch(self._client, list(self._filters["label"]))
        changed = self._watch.take_change()
        cached = self._found
        if not changed and cached is not None and time.monotonic() - cached[0] < _RECHECK_S:
            return cached[1]
        self._found = None
        found = self._find()
        self._found = (time.monotonic(), found)
        return found

    def _find(self) -> tuple[Any, Mapping[str, Any]] | None:
        """The newest matching container (full inspect) and its list entry, or None."""
        if self._client is None:
            self._client = self._factory()
        listed = self._client.containers.list(all=True, sparse=True, filters=self._filters)
        if not listed:
            return None
        newest = max(listed, key=lambda c: _timestamp(c.attrs.get("Created")) or 0.0)
        return self._client.containers.get(newest.id), newest.attrs

    def _stats_for(self, container: Any, running: bool) -> StatsStream | None:
        """Keep one stats thread, for ``container`` while it runs; restart it on a new id."""
        stream = self._stream
        if stream is not None and (not running or stream.container_id != container.id):
            stream.stop()
            stream = self._stream = None
        if running and stream is None:
            stream = self._stream = StatsStream(container)
        return stream

    def collect(self) -> ContainerSnapshot:
        """Read the container's state now (milliseconds; never raises).

        Returns:
            The snapshot; ``present=False`` with ``error`` set when the engine is unreachable.
        """
        now = time.time()
        try:
            found = self._lookup()
        except NotFound:  # removed between the list and the inspect
            found = None
        except APIError as exc:
            return ContainerSnapshot(present=False, at=now, error=f"Docker API error: {exc}")
        except Exception as exc:
            self._drop_client()
            return ContainerSnapshot(
                present=False, at=now, error=f"Docker engine unreachable: {exc}"
            )
        if found is None:
            self._stop_stats()
            return ContainerSnapshot(present=False, at=now)
        container, listed = found
        attrs: Mapping[str, Any] = container.attrs
        state: Mapping[str, Any] = attrs.get("State") or {}
        status = _str(state.get("Status"))
        running = status == "running"
        health = state.get("Health")
        started = _timestamp(state.get("StartedAt"))
        name = _str(attrs.get("Name"))
        stream = self._stats_for(container, running)
        sample = None if stream is None else stream.latest
        if sample is not None and now - sample.at > _STALE_S:
            sample = None
        return ContainerSnapshot(
            present=True,
            name=None if name is None else name.lstrip("/"),
            id=_str(attrs.get("Id")),
            state=status,
            # Docker keeps the last health status of a stopped container: not worth showing.
            health=_str(health.get("Status")) if running and isinstance(health, Mapping) else None,
            started_at=started,
            uptime_s=max(0.0, now - started) if running and started else None,
            restarts=_int(attrs.get("RestartCount")),
            exit_code=_int(state.get("ExitCode")) if status in ("exited", "dead") else None,
            cpu_pct=None if sample is None else sample.cpu_pct,
            cpus=None if sample is None else sample.cpus,
            mem_used=None if sample is None else sample.mem_used,
            mem_limit=None if sample is None else sample.mem_limit,
            image=_str((attrs.get("Config") or {}).get("Image")) or _str(listed.get("Image")),
            at=now,
        )

    def _stop_stats(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream = None

    def _drop_client(self) -> None:
        self._stop_stats()
        self._found = None
        if self._watch is not None:
            self._watch.stop(timeout=0.5)
            self._watch = None
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # already broken
                client.close()

    def close(self) -> None:
        """Stop the stats and events threads and close the docker client."""
        if self._stream is not None:
            self._stream.stop(timeout=2.0)
            self._stream = None
        if self._watch is not None:
            self._watch.stop(timeout=2.0)
        self._drop_client()
