"""``bring_up`` run here, when no llamadash owns the servers: the Pool, as ``switch`` uses it.

Takes the owner lock for the start only; the server keeps running after the command exits
(a later llamadash adopts it), exactly as after ``llamadash switch``.
"""

from __future__ import annotations

import asyncio

from llamadash.commands.bring_up import EXIT_FAILED, NotReadyError, Running
from llamadash.commands.local import ProgressPrinter
from llamadash.commands.owner import EXIT_BY_RESULT
from llamadash.core.admission import AdmissionRefused
from llamadash.core.context import Engine
from llamadash.core.events import Result
from llamadash.core.instance import SwitchError
from llamadash.core.pool import Pool
from llamadash.core.runtime.builds import running_binary


def start_here(engine: Engine, profile_id: str, *, restart: bool, quiet: bool) -> Running:
    """Make ``profile_id`` ready through this process's own Pool.

    Raises:
        NotReadyError: it failed, was superseded or refused.
        OwnerConflictError: another llamadash took the lock meanwhile.
    """
    engine.lock.acquire()
    try:
        return asyncio.run(_start(engine.pool, profile_id, restart, quiet))
    finally:
        engine.lock.release()


async def _start(pool: Pool, profile_id: str, restart: bool, quiet: bool) -> Running:
    try:
        await pool.adopt(watch=False)  # a one-shot command: nobody to tell later
        if not quiet:  # subscribed after adopting: what was found is not what this does
            pool.subscribe(ProgressPrinter())
        found = pool.find(profile_id)
        try:
            if found is not None and not restart:  # where it runs, foreground or beside
                outcome = await found.request(profile_id)
            else:
                outcome = await pool.switch(profile_id, restart=restart)
        except (SwitchError, AdmissionRefused) as exc:
            raise NotReadyError(f"{profile_id}: {exc}", EXIT_FAILED) from None
        if outcome.result != Result.READY:
            raise NotReadyError(
                f"{profile_id}: {outcome.result.value}: {outcome.message}",
                EXIT_BY_RESULT.get(outcome.result.value, EXIT_FAILED),
                list(outcome.log_tail),
            )
        instance = pool.find(profile_id) or pool.foreground
        obs = instance.last_observation
        binary = running_binary(instance.runtime.name, obs.pid if obs is not None else None)
        return Running(
            profile_id, instance.endpoint, outcome.seconds, outcome.restarted, "", binary
        )
    finally:
        await pool.aclose()  # the server keeps running
