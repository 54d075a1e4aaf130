"""What the pool does in the background costs little while nothing happens, and still sees.

An instance beside the foreground one is looked at when its runtime says it may have changed
(compose: docker events; process: every second, a /proc read), so a crash is still an event
within seconds; the idle watch pauses longer while no instance is used, and a request brings
it back to a look a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from llamadash.core.context import Engine
from llamadash.core.events import State
from llamadash.core.idle import IDLE_LOOK_SECONDS, QUIET_LOOK_SECONDS
from tests.e2e.test_pool import _kill_server, pool_engine

__all__ = ["pool_engine"]  # the fixture, shared with test_pool.py

pytestmark = pytest.mark.engine
FAST_WATCH = 0.1  # the watch's wake-up in these tests: each would be a look on the old code


def count_looks(runtime: Any) -> list[float]:
    """Record when ``runtime.observe`` runs (the real call still happens)."""
    looks: list[float] = []
    observe = runtime.observe

    def counted() -> Any:
        looks.append(time.monotonic())
        return observe()

    runtime.observe = counted
    return looks


async def test_a_quiet_instance_beside_is_looked_at_when_it_changed_and_its_crash_seen(
    pool_engine: Callable[..., Engine],
) -> None:
    engine = pool_engine()
    pool = engine.pool
    assert (await pool.start("tiny")).ok
    assert (await pool.start("tiny2")).ok
    tiny2 = pool.find("tiny2")
    assert tiny2 is not None
    tiny2._stop_watching()  # watched again below, waking often: the old code looked each time
    while tiny2._watch_task is not None and not tiny2._watch_task.done():
        await asyncio.sleep(0)  # the cancelled watch ends at its next await
    looks = count_looks(tiny2.runtime)
    tiny2.watch(FAST_WATCH)
    await asyncio.sleep(2.0)  # a window to count looks in, not a wait for a condition
    quiet = len(looks)
    if tiny2.runtime.name == "compose":
        # The event stream's start: a look before it is live and one as it goes live.
        assert quiet <= 2, f"{quiet} looks in 2 s with no container event"
    else:  # a look is a /proc read: it looks at every wake-up
        assert quiet >= 10
    _kill_server(tiny2)
    killed = time.monotonic()
    deadline = killed + 10
    while tiny2.last_event.state != State.FAILED and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert tiny2.last_event.state == State.FAILED, tiny2.last_event
    assert time.monotonic() - killed < 3.0  # noticed by the watch, not by the 30 s recheck
    assert pool.foreground.last_event.state == State.READY


async def test_the_idle_watch_pauses_while_nothing_is_used_and_a_request_ends_the_pause(
    pool_engine: Callable[..., Engine],
) -> None:
    engine = pool_engine()
    pool, idle = engine.pool, engine.idle
    assert (await pool.start("tiny")).ok
    assert (await pool.start("tiny2")).ok
    tiny2 = pool.find("tiny2")
    assert tiny2 is not None
    pauses = []
    for _ in range(5):
        await idle.tick()
        pauses.append(idle.next_look())
    assert pauses == [2.0, 4.0, 8.0, QUIET_LOOK_SECONDS, QUIET_LOOK_SECONDS]
    before = tiny2.last_used
    reply = httpx.post(f"{tiny2.endpoint}/completion", json={"prompt": "Hi", "n_predict": 2})
    assert reply.status_code == 200
    await idle.tick()
    assert tiny2.last_used > before
    assert idle.next_look() == IDLE_LOOK_SECONDS
