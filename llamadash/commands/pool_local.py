"""The pool's verbs run here, when no llamadash owns the servers.

Like :mod:`llamadash.commands.local` for a switch: take the owner lock, adopt what runs (the
foreground server and those the pool record names), act through the same Pool the API drives,
release the lock. The servers keep running after the command exits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from llamadash.commands.instances import item, not_running
from llamadash.commands.local import ProgressPrinter
from llamadash.core.admission import AdmissionRefused
from llamadash.core.context import Engine
from llamadash.core.events import Result, SwitchOutcome
from llamadash.core.instance import SwitchError
from llamadash.core.pool import Pool
from llamadash.core.pool_view import describe_all

Shower = Callable[[Sequence[dict[str, Any]], Sequence[dict[str, Any]]], None]
"""Prints one look: the instances' and the other hosts' JSON forms (commands/instances.py)."""

if TYPE_CHECKING:
    from llamadash.commands.instances import Item

WATCH_SECONDS = 1.0


def run_pool(engine: Engine, verb: str, targets: list[str] | None, quiet: bool) -> list[Item]:
    """``start``/``restart``/``stop`` each target (None: every running instance) here.

    Raises:
        OwnerConflictError: another llamadash took the lock meanwhile.
    """
    engine.lock.acquire()
    try:
        return asyncio.run(_run(engine.pool, verb, targets, quiet))
    finally:
        engine.lock.release()


async def _run(pool: Pool, verb: str, targets: list[str] | None, quiet: bool) -> list[Item]:
    try:
        await pool.adopt(watch=False)  # a one-shot command: nobody to tell later
        # Subscribed after adopting: what was found is not what this command does.
        if not quiet:
            pool.subscribe(ProgressPrinter(named=True))
        if verb == "stop":
            return await _stop(pool, targets)
        if targets is None:
            targets = [i.profile_id for i in pool.instances() if i.profile_id]
        return [await _start(pool, target, restart=verb == "restart") for target in targets]
    finally:
        await pool.aclose()  # every server keeps running


async def _start(pool: Pool, target: str, *, restart: bool) -> Item:
    try:
        outcome = await (pool.restart(target) if restart else pool.start(target))
    except (AdmissionRefused, SwitchError) as exc:  # nothing was stopped for it
        return item(target, "refused", str(exc))
    found = pool.find(target)
    endpoint = found.endpoint if found is not None and outcome.result == Result.READY else None
    return _item(outcome, target, endpoint)


async def _stop(pool: Pool, targets: list[str] | None) -> list[Item]:
    if targets is None:
        ids = [instance.profile_id for instance in pool.instances()]
        # Pool.stop answers in the order of its instances; a stop's outcome names no profile.
        return [_item(o, o.profile_id or i) for o, i in zip(await pool.stop(), ids, strict=False)]
    items = []
    for target in targets:
        if pool.find(target) is None:
            running = [i.profile_id for i in pool.instances() if i.profile_id]
            items.append(not_running(target, running))
        else:
            items.append(_item((await pool.stop(target))[0], target))
    return items


def _item(outcome: SwitchOutcome, target: str | None, endpoint: str | None = None) -> Item:
    return item(
        target,
        outcome.result.value,
        outcome.message,
        endpoint=endpoint,
        restarted=outcome.restarted,
        seconds=outcome.seconds,
        log_tail=outcome.log_tail,
    )


def watch_instances(make_engine: Callable[[], Engine], show: Shower, watch: bool) -> None:
    """Show every instance once (``watch``: every second until interrupted), read-only."""
    asyncio.run(_watch(make_engine, show, watch))


async def _watch(make_engine: Callable[[], Engine], show: Shower, watch: bool) -> None:
    loop = asyncio.get_running_loop()
    pool = make_engine().pool
    try:
        await pool.adopt(watch=False)
        adopted = pool.record.members()  # as adoption left it (the gone ones dropped)
        while True:
            began = loop.time()
            if pool.record.members() != adopted:
                # Another llamadash started or stopped one meanwhile: adopt the pool afresh.
                await pool.aclose()
                pool = make_engine().pool
                await pool.adopt(watch=False)
                adopted = pool.record.members()
            # No idle watch runs without an owner: no ttl counts down, so none is shown.
            infos, hosts = await describe_all(pool, None, probe=True)
            show([info.to_dict() for info in infos], [host.to_dict() for host in hosts])
            if not watch:
                return
            await asyncio.sleep(max(0.0, WATCH_SECONDS - (loop.time() - began)))
    finally:
        await pool.aclose()
