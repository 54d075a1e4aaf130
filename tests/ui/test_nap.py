"""Nap: a sleep another coroutine can end early, and a wake that arrives between sleeps."""

from __future__ import annotations

import asyncio
import time

from llamadash.ui.nap import Nap


async def test_a_wake_ends_the_sleep_at_once_and_the_time_ends_it_otherwise() -> None:
    nap = Nap()
    began = time.monotonic()
    await nap.sleep(0.05)
    assert time.monotonic() - began >= 0.05

    sleeper = asyncio.create_task(nap.sleep(30))
    await asyncio.sleep(0)  # the sleeper is waiting now
    began = time.monotonic()
    nap.wake()
    await asyncio.wait_for(sleeper, 5)
    assert time.monotonic() - began < 1


async def test_a_wake_between_sleeps_is_kept_for_the_next_one_only() -> None:
    nap = Nap()
    nap.wake()  # nobody sleeps: the next sleep returns at once, even one without a timeout
    await asyncio.wait_for(nap.sleep(None), 1)
    began = time.monotonic()
    await nap.sleep(0.05)  # the wake was used up
    assert time.monotonic() - began >= 0.05


async def test_a_wake_just_after_the_time_ran_out_is_not_lost() -> None:
    nap = Nap()
    sleeper = asyncio.create_task(nap.sleep(0.01))
    while not sleeper.done():
        if nap._waiter is not None and nap._waiter.done():
            nap.wake()  # the timer fired; the sleeper has not resumed yet
        await asyncio.sleep(0)
    await asyncio.wait_for(nap.sleep(None), 1)  # returns: the wake was kept
