"""The JSON routes: /healthz, /models, /status, /switch, /stop.

Status codes of ``POST /switch`` (and ``POST /stop``):

* 200 ready (or stopped) — including "already ready", which restarts nothing;
* 202 ``"wait": false`` — accepted, the switch runs on; ``Location: /status``;
* 400 malformed body or query, naming the problem; 404 unknown model, with near matches;
* 409 superseded by a newer request before it ran, or admission refused (max_instances > 1:
  the memory or the instance count is held by pinned or busy instances; nothing was stopped);
* 502 the switch failed (``message`` and the server's ``log_tail``);
* 503 the engine cannot be reached, or the API is shutting down;
* 504 no outcome within ``timeout`` seconds — the switch keeps running.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from llamadash import __version__
from llamadash.api.auth import token_rule
from llamadash.api.encode import json_response
from llamadash.api.errors import ApiError
from llamadash.api.inputs import (
    SwitchRequest,
    check_query_keys,
    parse_stop,
    parse_switch,
    read_body,
)
from llamadash.api.shapes import Health, Model, Models
from llamadash.api.state import ApiContext, context
from llamadash.core.admission import AdmissionRefused
from llamadash.core.events import BUSY_STATES, Result, State, Status, SwitchOutcome
from llamadash.core.instance import SwitchError
from llamadash.core.profiles import Profile, UnknownProfileError
from llamadash.core.runtime.base import RuntimeFailure
from llamadash.core.tokens import TokenRule

STATUS_BY_RESULT = {
    Result.READY: 200,
    Result.STOPPED: 200,
    Result.SUPERSEDED: 409,
    Result.FAILED: 502,
}


async def healthz(request: Request) -> Response:
    """``GET /healthz``: llamadash itself answers (never touches the engine; no token needed)."""
    ctx = context(request)
    return json_response(
        Health(ok=True, version=__version__, uptime=ctx.uptime, busy=ctx.switcher.busy)
    )


async def status(request: Request) -> Response:
    """``GET /status``: what runs now."""
    return Response(await context(request).status_body(), media_type="application/json")


async def models(request: Request) -> Response:
    """``GET /models``: every profile, marking the current and the loading one."""
    ctx = context(request)
    now = await _status(ctx)
    current = now.profile_id if now.state == State.READY else None
    loading = now.profile_id if now.state in BUSY_STATES else None
    profiles = ctx.switcher.profiles
    stale = now.profile_id if now.restart_to_apply else None
    numbers = {p.id: str(i) for i, p in enumerate(profiles.production, 1)}
    numbers.update({p.id: f"b{i}" for i, p in enumerate(profiles.benches, 1)})
    body = Models(
        current=current,
        loading=loading,
        state=now.state,
        models=tuple(
            _profile(
                p,
                numbers[p.id],
                current=p.id == current,
                loading=p.id == loading,
                stale=p.id == stale,
            )
            for p in profiles.profiles
        ),
        config_error=now.config_error,
        settings_changed=now.settings_changed,
    )
    return json_response(body)


def _profile(p: Profile, number: str, *, current: bool, loading: bool, stale: bool) -> Model:
    return Model(
        id=p.id,
        name=p.name,
        number=number,
        model=p.model,
        speed=p.speed,
        ctx=p.ctx,
        bench=p.bench,
        current=current,
        loading=loading,
        restart_to_apply=stale,
    )


async def switch(request: Request) -> Response:
    """``POST /switch {"model": ..., "wait": true, "restart": false, "timeout": <s>}``."""
    ctx = context(request)
    asked = await switch_body(request)
    profile = await resolve_model(ctx, asked, token_rule(request.scope))
    job = ctx.submit(profile.id, restart=asked.restart)
    if not asked.wait:
        return await accepted(ctx, f"switching to {profile.id}")
    return await answer(ctx, job, asked.timeout, profile.id)


async def switch_body(request: Request) -> SwitchRequest:
    """The validated ``{"model", "wait", "restart", "timeout", "exact"}`` body (and query).

    Raises:
        ApiError: 400 naming the problem, 413 for a body too large.
    """
    check_query_keys(k for k, _ in request.query_params.multi_items())
    return parse_switch(await read_body(request), request.query_params)


async def resolve_model(
    ctx: ApiContext, asked: SwitchRequest, rule: TokenRule | None = None
) -> Profile:
    """The profile ``asked.model`` names: exactly that id with ``exact``, else the CLI's matching.

    Raises:
        ApiError: 404 unknown_model, with near matches and the valid ids; 403 the request's
            named token (``rule``, ``routes = all``) may not use it.
    """
    if ctx.switcher.config_watch is not None:
        # A stat; models.conf is read again only if it changed since the last poll, so a
        # caller that has just edited it (and resolved its id from it) is never answered
        # from the profiles of a second ago.
        await ctx.switcher.config_watch.check()
    try:
        found = (
            _exact(ctx, asked.model) if asked.exact else ctx.switcher.profiles.resolve(asked.model)
        )
    except UnknownProfileError as exc:
        raise ApiError(
            404,
            "unknown_model",
            str(exc),
            query=asked.model,
            suggestions=list(exc.suggestions),
            valid=list(exc.valid),
        ) from None
    if rule is not None and not rule.allows(found.id):
        allowed = ", ".join(rule.allowed(p.id for p in ctx.switcher.profiles.profiles))
        raise ApiError(
            403, "model_not_allowed", f"token {rule.name!r} may not use {found.id} ({allowed})"
        )
    return found


def _exact(ctx: ApiContext, profile_id: str) -> Profile:
    """The profile with exactly this id now.

    Raises:
        UnknownProfileError: models.conf has no such section (no near matches: the caller
            resolved the id itself, a guess would switch the wrong model).
    """
    profiles = ctx.switcher.profiles
    found = profiles.get(profile_id)
    if found is None:
        raise UnknownProfileError(profile_id, (), (p.id for p in profiles.profiles))
    return found


async def stop(request: Request) -> Response:
    """``POST /stop`` (body optional: ``{"wait": true, "timeout": <s>}``)."""
    ctx = context(request)
    check_query_keys(k for k, _ in request.query_params.multi_items())
    asked = parse_stop(await read_body(request), request.query_params)
    job = ctx.submit(None)
    if not asked.wait:
        return await accepted(ctx, "stopping")
    return await answer(ctx, job, asked.timeout)


async def accepted(ctx: ApiContext, message: str, location: str = "/status") -> Response:
    """202: ``message``, the work runs on; follow ``location`` or GET /events."""
    now = await _status(ctx)
    return JSONResponse(
        {"message": f"{message}; follow GET {location} or GET /events", "status": now.to_dict()},
        status_code=202,
        headers={"Location": location},
    )


async def answer(
    ctx: ApiContext,
    job: asyncio.Task[SwitchOutcome],
    timeout: float | None,
    target: str | None = None,
    more: Callable[[], Awaitable[dict[str, Any]]] | None = None,
) -> Response:
    """Wait for ``job`` (at most ``timeout`` s) and turn its outcome into a response.

    ``target``: the profile id the job heads for (None: a stop); ``more``: further fields of
    the body, asked once the outcome is known.
    """
    seconds = ctx.switcher.settings.switch_timeout if timeout is None else timeout
    closing = asyncio.ensure_future(ctx.closing.wait())
    try:
        await asyncio.wait({job, closing}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        closing.cancel()
    if not job.done():
        now = await _status(ctx)
        if ctx.closing.is_set():
            raise ApiError(
                503,
                "shutting_down",
                "the API is shutting down; the switch goes on",
                status=now.to_dict(),
            )
        raise ApiError(
            504,
            "timeout",
            f"no outcome after {seconds:g}s; the switch goes on (see /status)",
            timeout=seconds,
            status=now.to_dict(),
        )
    try:
        outcome = job.result()
    except AdmissionRefused as exc:
        now = await _status(ctx)
        raise ApiError(409, "admission_refused", str(exc), status=now.to_dict()) from None
    except SwitchError as exc:
        if target is not None and ctx.switcher.profiles.get(target) is not None:
            # The profile exists: the pool could not place it (no free port, its port taken).
            raise ApiError(409, "start_refused", str(exc)) from None
        # resolve() returned an id, so only a changed models.conf
        raise ApiError(404, "unknown_model", str(exc)) from None
    except RuntimeFailure as exc:
        raise ApiError(503, "engine_unavailable", str(exc)) from None
    now = await _status(ctx)
    code = STATUS_BY_RESULT[outcome.result]
    body: dict[str, Any] = {
        "message": outcome.message,
        "outcome": outcome.to_dict(),
        "status": now.to_dict(),
        **(await more() if more is not None else {}),
    }
    if outcome.result == Result.FAILED:
        body.update(error="switch_failed", log_tail=list(outcome.log_tail))
    elif outcome.result == Result.SUPERSEDED:
        body.update(error="superseded", superseded_by=outcome.superseded_by)
    return JSONResponse(body, status_code=code)


async def _status(ctx: ApiContext) -> Status:
    """The switcher's status (an engine that cannot be reached is a 503 ApiError)."""
    return await ctx.status()
