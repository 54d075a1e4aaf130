"""The pool's routes: ``GET /instances``, ``POST /instances``, ``DELETE /instances[/{id}]``.

``POST /instances`` takes the body of ``POST /switch`` (the same parsing and matching) and
starts the profile alongside what runs (``Pool.start``; ``"restart": true`` restarts it where
it runs). Its answers are /switch's: 200 ready (also "already runs": restarted false), 202 with
``"wait": false`` once admitted, 404 unknown model with near matches, 409 ``admission_refused``
(nothing was stopped; the message names what holds the memory) or ``start_refused`` (no free
port), 502 failed with the log tail, 504 no outcome within the timeout.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from llamadash.api.auth import token_rule
from llamadash.api.errors import ApiError
from llamadash.api.inputs import check_query_keys, query_timeout
from llamadash.api.routes import accepted, answer, resolve_model, switch_body
from llamadash.api.state import ApiContext, context
from llamadash.core.events import Result, SwitchEvent, SwitchOutcome
from llamadash.core.pool import Pool
from llamadash.core.pool_view import describe_all
from llamadash.core.runtime.base import RuntimeFailure


async def listing(request: Request) -> Response:
    """``GET /instances``: every instance, with its /health latency and build."""
    ctx = context(request)
    try:
        infos, hosts = await describe_all(ctx.need_pool(), ctx.idle, probe=True)
    except RuntimeFailure as exc:
        raise ApiError(503, "engine_unavailable", str(exc)) from None
    listed = {"instances": [info.to_dict() for info in infos]}
    return JSONResponse(listed | {"hosts": [host.to_dict() for host in hosts]})


async def start(request: Request) -> Response:
    """``POST /instances {"model": ..., "exact"?, "wait"?, "restart"?, "timeout"?}``."""
    ctx = context(request)
    pool = ctx.need_pool()
    asked = await switch_body(request)
    profile_id = (await resolve_model(ctx, asked, token_rule(request.scope))).id
    work = pool.restart(profile_id) if asked.restart else pool.start(profile_id)
    known = pool.find(profile_id) is not None
    job = ctx.run(work, f"start-{profile_id}")
    if not asked.wait:
        if not known:  # a refusal comes at admission: wait for that, not for the load
            await _admitted(ctx, pool, job, profile_id, asked.timeout)
        if not job.done():
            return await accepted(ctx, f"starting {profile_id}", "/instances")

    async def instance() -> dict[str, Any]:
        infos = await _describe(ctx, pool)
        return {"instance": next((i.to_dict() for i in infos if i.id == profile_id), None)}

    return await answer(ctx, job, asked.timeout, profile_id, more=instance)


async def _admitted(
    ctx: ApiContext,
    pool: Pool,
    job: asyncio.Task[SwitchOutcome],
    profile_id: str,
    timeout: float | None,
) -> None:
    """Return once ``job`` is done or its instance publishes its first event (it was admitted)."""
    seen = asyncio.Event()

    def look(event: SwitchEvent) -> None:
        if event.instance == profile_id:  # an evicted instance's events name that one
            seen.set()

    unsubscribe = pool.subscribe(look)
    waiters = [asyncio.ensure_future(seen.wait()), asyncio.ensure_future(ctx.closing.wait())]
    try:
        seconds = ctx.switcher.settings.switch_timeout if timeout is None else timeout
        await asyncio.wait({job, *waiters}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        unsubscribe()
        for waiter in waiters:
            waiter.cancel()


async def stop_one(request: Request) -> Response:
    """``DELETE /instances/{id}[?timeout=]``: stop the instance running profile ``id``."""
    ctx = context(request)
    pool = ctx.need_pool()
    check_query_keys(k for k, _ in request.query_params.multi_items())
    timeout = query_timeout(request.query_params)
    target = str(request.path_params["id"])
    if pool.find(target) is None:
        running = [info.id for info in await _describe(ctx, pool)]
        shown = ", ".join(running) if running else "nothing"
        raise ApiError(
            404,
            "not_running",
            f"no instance runs {target!r}; running: {shown}",
            running=running,
        )
    job = ctx.run(_first(pool, target), f"stop-{target}")
    return await answer(ctx, job, timeout)


async def _first(pool: Pool, target: str) -> SwitchOutcome:
    outcome = (await pool.stop(target))[0]
    return replace(outcome, profile_id=target)  # a stop's outcome names no profile


async def stop_all(request: Request) -> Response:
    """``DELETE /instances[?timeout=]``: stop every instance (``llamadash stop all``)."""
    ctx = context(request)
    pool = ctx.need_pool()
    check_query_keys(k for k, _ in request.query_params.multi_items())
    timeout = query_timeout(request.query_params)
    outcomes: list[SwitchOutcome] = []
    job = ctx.run(_stop_all(pool, outcomes), "stop-all")

    async def each() -> dict[str, Any]:
        return {"outcomes": [o.to_dict() for o in outcomes]}

    return await answer(ctx, job, timeout, more=each)


async def _stop_all(pool: Pool, outcomes: list[SwitchOutcome]) -> SwitchOutcome:
    """Every instance stopped, as one outcome (failed if any failed); ``outcomes`` gets each."""
    ids = [instance.profile_id for instance in pool.instances()]
    # Pool.stop answers in the order of its instances: each outcome named after its own.
    stopped = [
        replace(o, profile_id=o.profile_id or i)
        for o, i in zip(await pool.stop(), ids, strict=False)
    ]
    outcomes.extend(stopped)
    failed = [o for o in stopped if not o.ok]
    if failed:
        text = "; ".join(f"{o.profile_id or 'foreground'}: {o.message}" for o in failed)
        tail = next((o.log_tail for o in failed if o.log_tail), ())
        message = f"not every instance stopped: {text}"
        return SwitchOutcome(Result.FAILED, None, message, 0.0, True, tail)
    ran = [o.profile_id for o in stopped if o.restarted and o.profile_id]
    message = f"stopped {', '.join(ran)}" if ran else "already stopped"
    seconds = max((o.seconds for o in stopped), default=0.0)
    return SwitchOutcome(Result.STOPPED, None, message, seconds, bool(ran))


async def _describe(ctx: ApiContext, pool: Pool, *, probe: bool = False) -> tuple[Any, ...]:
    try:
        return (await describe_all(pool, ctx.idle, probe=probe))[0]
    except RuntimeFailure as exc:
        raise ApiError(503, "engine_unavailable", str(exc)) from None
