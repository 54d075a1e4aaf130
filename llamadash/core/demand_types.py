"""The shapes of on-demand routing: a refusal with its HTTP meaning, a waiting request, a lease."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from llamadash.core.instance import Instance


class DemandRefused(Exception):
    """A request for a model cannot be served (now): why, as an HTTP status and a code.

    Args:
        status: 404 unknown model, 409 held by a person's choice or on_demand off, 429 queue
            full, 502 the load failed, 503 the swap could not happen in time, 504 load timeout.
        code: a short machine-readable reason (``queue_full``, ``load_failed``…).
        message: what a user reads, naming the model and what runs.
        retry_after: seconds worth waiting before asking again (429).
        log_tail: the server's last log lines when its load failed.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retry_after: float | None = None,
        log_tail: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.log_tail = log_tail


@dataclass(eq=False)
class Waiter:
    """One request waiting for its model: when it came, and the future that answers it."""

    profile_id: str
    arrived: float
    future: asyncio.Future[Instance]


@dataclass(frozen=True)
class Blocked:
    """Why the next model cannot load yet: the answer once its requests waited ``max_wait``."""

    status: int
    code: str
    message: str


@dataclass(eq=False)
class Lease:
    """A request's hold on a ready instance: it counts as in flight until released.

    An instance with a lease out is never stopped for another model (core/pool.py counts it
    busy). Release it exactly once, when the answer has been sent or the client is gone.
    """

    profile_id: str
    instance: Instance
    waited: float
    """Seconds the request waited for its model (0 when it was ready)."""
    _release: Callable[[Lease], None]
    released: bool = False

    def release(self) -> None:
        """Give the instance back (idempotent)."""
        if not self.released:
            self.released = True
            self._release(self)
