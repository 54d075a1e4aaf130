"""The OpenAI-compatible endpoints: name a model, get it — started or swapped on demand.

``POST /v1/chat/completions`` and its siblings pass the request body untouched to the server
of the profile the body's ``model`` (or the ``X-Model-Id`` header) names, once
:class:`~llamadash.core.demand.DemandRouter` has it ready, and stream the answer back as it
comes. A client that goes away while it waits leaves the queue; one that goes away while the
answer streams closes the upstream connection, so llama-server stops generating and frees the
slot. An answer that breaks off (the server crashed or was stopped) ends an event stream with
an error event.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import time
from dataclasses import dataclass, replace

import msgspec
from starlette.types import Receive, Scope, Send

from llamadash.api.auth import token_rule
from llamadash.api.proxy_input import (
    TAIL_BYTES,
    allowed_model,
    answer_tokens,
    named_model,
    read_body,
    refusal_error,
    resolve_model,
)
from llamadash.api.proxy_loading import LOADING_HEADER, LOADING_OBJECTS, LoadingStream
from llamadash.api.sse import client_gone
from llamadash.api.state import ApiContext
from llamadash.api.upstream import PASSED_REQUEST_HEADERS, Answer, UpstreamError
from llamadash.core.agent_flags import AgentFlagsError
from llamadash.core.demand_types import DemandRefused, Lease
from llamadash.core.settings import parse_bool
from llamadash.core.tokens import TokenRule

PROXIED_PATHS = (
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/rerank",
    "/completion",
    "/infill",
    "/v1/messages",
)


@dataclass(frozen=True)
class _Call:
    """One request on its way: what it asked, who answers it."""

    ctx: ApiContext
    profile_id: str
    body: bytes
    headers: dict[str, str]
    send: Send
    arrived: float
    loading: bool
    """A stream that waits for its model hears the load's stages (proxy_loading.py)."""


class ProxyEndpoint:
    """An ASGI endpoint forwarding one path to the instance its request names."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.anthropic = path == "/v1/messages"
        self.may_tell_loading = path in LOADING_OBJECTS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request (never raises to the server: every failure is an answer)."""
        ctx: ApiContext = scope["app"].state.ctx
        arrived = time.monotonic()
        try:
            body = await read_body(receive)
            headers = _request_headers(scope)
            asked, streams = named_model(body, headers.get("x-model-id"))
            profile_id = self._pick(ctx, asked, token_rule(scope))
            loading = streams and self.may_tell_loading and _loading_wanted(ctx, headers)
        except DemandRefused as refused:
            if refused.status != 499:
                await self._refuse(send, refused)
            ctx.traffic.answered("-", refused.status, waited=0.0, first_byte=None, tokens=None)
            return
        # One race per request: the work (wait for the model, forward, stream) against the
        # client going away, which cancels it — leaving the queue, or closing the upstream.
        gone = asyncio.ensure_future(client_gone(receive))
        call = _Call(ctx, profile_id, body, headers, send, arrived, loading)
        work = asyncio.ensure_future(self._serve(call))
        try:
            await asyncio.wait((work, gone), return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not work.done():
                work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work

    async def _serve(self, call: _Call) -> None:
        ctx, profile_id, send, arrived = call.ctx, call.profile_id, call.send, call.arrived
        loading: LoadingStream | None = None
        try:
            if (flags := call.headers.get("x-agent-flags", "").strip()) != "":
                call = await _with_flags(call, flags)
                profile_id = call.profile_id
            router = ctx.need_router()
            if call.loading and router.ready_instance(profile_id) is None:
                loading = LoadingStream(send, self.path, profile_id)
                lease = await loading.wait(router)
            else:
                lease = await router.acquire(profile_id)
        except DemandRefused as refused:
            if loading is not None and loading.started:
                await loading.fail(refused)
            else:
                await self._refuse(send, refused)
            ctx.traffic.answered(
                profile_id, refused.status, waited=time.monotonic() - arrived, first_byte=None,
                tokens=None,
            )  # fmt: skip
            return
        try:
            await self._forward(call, lease, loading if loading and loading.started else None)
        finally:
            lease.release()

    def _pick(self, ctx: ApiContext, asked: str | None, rule: TokenRule | None) -> str:
        profiles = ctx.switcher.profiles
        if asked is not None:
            return allowed_model(resolve_model(profiles, asked, rule), profiles, rule)
        running = ctx.need_router().running()
        if len(running) == 1:
            return allowed_model(str(running[0]), profiles, rule)
        raise DemandRefused(
            400,
            "model_required",
            'name a model: the body\'s "model" or an X-Model-Id header (GET /v1/models lists'
            f" them; running: {', '.join(running) or 'nothing'})",
        )

    async def _forward(self, call: _Call, lease: Lease, begun: LoadingStream | None) -> None:
        """Pass the request on and its answer back (into the loading stream when ``begun``)."""
        ctx, send, arrived, instance = call.ctx, call.send, call.arrived, lease.instance
        passed = {k: v for k, v in call.headers.items() if k in PASSED_REQUEST_HEADERS}
        host, port = instance.runtime.endpoint_host, instance.settings.port
        if instance not in ctx.upstream_hooked:  # before a stop, our idle connections go
            instance.on_stop(functools.partial(ctx.upstream.drop, host, port))
            ctx.upstream_hooked.add(instance)
        streamed = False
        status, first, tail = 502, None, bytearray()
        try:
            answer = await ctx.upstream.send(
                host, port, "POST", self.path, headers=passed, body=call.body
            )
        except UpstreamError as exc:
            refused = DemandRefused(502, "upstream_unreachable", str(exc))
            await (begun.fail(refused) if begun else self._refuse(send, refused))
            ctx.traffic.answered(lease.profile_id, 502, waited=lease.waited, first_byte=None,
                                 tokens=None)  # fmt: skip
            return
        status = answer.head.status
        streamed = "text/event-stream" in answer.head.headers.get("content-type", "")
        if begun is not None and not (status == 200 and streamed):
            await _into_stream(begun, answer)  # the server refused the body: its error event
            ctx.traffic.answered(lease.profile_id, status, waited=lease.waited,
                                 first_byte=None, tokens=None)  # fmt: skip
            return
        if begun is None:
            extra = [] if answer.head.chunked else _length(answer.head.headers)
            await send({"type": "http.response.start", "status": status,
                        "headers": answer.headers + extra})  # fmt: skip
        try:
            async for piece in answer.body():
                if first is None:
                    first = time.monotonic() - arrived
                tail += piece  # trimmed now and then, not copied per token
                if len(tail) > 2 * TAIL_BYTES:
                    del tail[:-TAIL_BYTES]
                await send({"type": "http.response.body", "body": piece, "more_body": True})
        except asyncio.CancelledError:  # the client left: closing stops the generation
            answer.close()
            raise
        except UpstreamError as exc:
            if streamed:
                event = {"error": {"message": f"{lease.profile_id}: {exc}", "type": "server_error"}}
                frame = b"data: " + msgspec.json.encode(event) + b"\n\n"
                await send({"type": "http.response.body", "body": frame, "more_body": True})
            status = 502
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        tokens = answer_tokens(bytes(tail[-TAIL_BYTES:]), streamed) if status < 400 else None
        ctx.traffic.answered(
            lease.profile_id, status, waited=lease.waited, first_byte=first, tokens=tokens
        )

    async def _refuse(self, send: Send, refused: DemandRefused) -> None:
        error = refusal_error(refused)
        body = {"type": "error", "error": error} if self.anthropic else {"error": error}
        raw = msgspec.json.encode(body)
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(raw))]
        if refused.retry_after is not None:
            headers.append((b"retry-after", str(max(1, math.ceil(refused.retry_after))).encode()))
        await send({"type": "http.response.start", "status": refused.status, "headers": headers})
        await send({"type": "http.response.body", "body": raw})


async def _with_flags(call: _Call, header: str) -> _Call:
    """The call with its agent flags applied: fields merged into the body, maybe a variant.

    Raises:
        DemandRefused: 400 naming the flag that cannot be applied.
    """
    try:
        target, fields = await call.ctx.need_router().flags.apply(call.profile_id, header)
    except AgentFlagsError as exc:
        raise DemandRefused(400, "invalid_flags", str(exc)) from None
    body = call.body
    if fields:
        data = msgspec.json.decode(body)  # a JSON object: checked by named_model
        body = msgspec.json.encode({**data, **fields})
    return replace(call, profile_id=target, body=body)


def _loading_wanted(ctx: ApiContext, headers: dict[str, str]) -> bool:
    """The ``loading_state`` setting, or the request's ``X-Loading-State`` over it.

    Raises:
        DemandRefused: 400 the header is neither true nor false.
    """
    header = headers.get(LOADING_HEADER)
    if header is None:
        return ctx.switcher.settings.loading_state
    try:
        return parse_bool(header)
    except ValueError:
        raise DemandRefused(
            400, "invalid_header", f"X-Loading-State: want 1 or 0 (true or false), got {header!r}"
        ) from None


async def _into_stream(begun: LoadingStream, answer: Answer) -> None:
    """An answer that is not an event stream (llama-server refused the body), as an error event."""
    body = bytearray()
    with contextlib.suppress(UpstreamError):
        async for piece in answer.body():
            body += piece
    text = bytes(body).strip()
    if not text.startswith(b"{"):
        text = msgspec.json.encode({"error": {"message": text.decode(errors="replace"),
                                              "type": "server_error"}})  # fmt: skip
    await begun.frame(text)
    await begun.send({"type": "http.response.body", "body": b"", "more_body": False})


def _request_headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _length(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    length = headers.get("content-length")
    return [(b"content-length", length.encode("latin-1"))] if length is not None else []
