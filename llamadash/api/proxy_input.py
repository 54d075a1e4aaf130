"""What a /v1/* request asks for, its refusals as OpenAI's errors, and the answer's tokens."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from starlette.types import Receive

from llamadash.core.demand_types import DemandRefused
from llamadash.core.profiles import ProfileSet, UnknownProfileError
from llamadash.core.tokens import TokenRule

MAX_REQUEST_BODY = 64 * 1024 * 1024  # a long prompt with images, not a file upload
TAIL_BYTES = 16 * 1024  # where the answer's usage or timings are
ERROR_TYPES = {
    400: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    429: "rate_limit",
}


class _Asks(msgspec.Struct):
    """Only the ``model`` and ``stream`` of a request body (the rest is not decoded)."""

    model: Any = None
    stream: Any = False


async def read_body(receive: Receive) -> bytes:
    """The whole request body.

    Raises:
        DemandRefused: 413 over MAX_REQUEST_BODY; 499 the client left before sending it.
    """
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise DemandRefused(499, "client_gone", "the client went away")
        part = message.get("body", b"")
        size += len(part)
        if size > MAX_REQUEST_BODY:
            raise DemandRefused(413, "too_large", f"request body over {MAX_REQUEST_BODY} bytes")
        parts.append(part)
        if not message.get("more_body", False):
            return b"".join(parts)


def named_model(body: bytes, header: str | None) -> tuple[str | None, bool]:
    """The model a request names, and whether it asks for a stream.

    The model: the ``X-Model-Id`` header, else the body's ``model``. The body is checked
    first either way: nothing malformed starts a model.

    Raises:
        DemandRefused: 400 the body is not a JSON object, or ``model`` is not a string.
    """
    try:
        asked = msgspec.json.decode(body, type=_Asks)
    except msgspec.DecodeError as exc:
        raise DemandRefused(
            400, "invalid_json", f"the body must be a JSON object ({exc})"
        ) from None
    streams = asked.stream is True
    if header and header.strip():
        return header.strip(), streams
    if asked.model is None:
        return None, streams
    if not isinstance(asked.model, str):
        raise DemandRefused(400, "invalid_model", "model must be a string (a profile id)")
    return asked.model.strip() or None, streams


def refusal_error(refused: DemandRefused) -> dict[str, Any]:
    """A refusal as OpenAI's error object (``{"error": …}``'s value)."""
    error: dict[str, Any] = {
        "message": refused.message,
        "type": ERROR_TYPES.get(refused.status, "server_error"),
        "code": refused.code,
    }
    if refused.status in (403, 404):
        error["param"] = "model"
    if refused.log_tail:
        error["log_tail"] = list(refused.log_tail)
    return error


def resolve_model(profiles: ProfileSet, asked: str, rule: TokenRule | None = None) -> str:
    """The profile id ``asked`` means: exact id first, then the CLI's matching rules.

    Raises:
        DemandRefused: 404 with near matches (never another profile; with a named token's
            ``rule`` only those it may use are named).
    """
    if profiles.get(asked) is not None:
        return asked
    try:
        return profiles.resolve(asked).id
    except UnknownProfileError as exc:
        shown = exc.suggestions if rule is None else rule.allowed(exc.suggestions)
        near = f"; did you mean {', '.join(shown)}?" if shown else ""
        ids = [p.id for p in profiles.profiles]
        known = ", ".join(ids if rule is None else rule.allowed(ids)) or "none"
        raise DemandRefused(
            404, "model_not_found", f"no model {asked!r}{near} (models: {known}; GET /v1/models)"
        ) from None


def allowed_model(profile_id: str, profiles: ProfileSet, rule: TokenRule | None) -> str:
    """``profile_id``, if the request's named token (``rule``) may use it.

    Raises:
        DemandRefused: 403 naming the models the token may use (nothing is started).
    """
    if rule is None or rule.allows(profile_id):
        return profile_id
    allowed = ", ".join(rule.allowed(p.id for p in profiles.profiles)) or "none"
    raise DemandRefused(
        403,
        "model_not_allowed",
        f"token {rule.name!r} may not use {profile_id} (it may use: {allowed})",
    )


def answer_tokens(tail: bytes, streamed: bool) -> tuple[int, int] | None:
    """(prompt, generated) tokens from the end of an answer: usage, or llama-server's timings."""
    if streamed:
        for line in reversed(tail.split(b"\n")):
            if line.startswith(b"data:") and (b'"usage"' in line or b'"timings"' in line):
                return _tokens(_json(line[5:]))
        return None
    return _tokens(_json(tail))


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def _tokens(data: Any) -> tuple[int, int] | None:
    if not isinstance(data, dict):
        return None
    for source, keys in (
        ("usage", ("prompt_tokens", "completion_tokens")),
        ("usage", ("input_tokens", "output_tokens")),  # /v1/messages
        ("timings", ("prompt_n", "predicted_n")),
        (None, ("tokens_evaluated", "tokens_predicted")),  # /completion
    ):
        block = data.get(source) if source else data
        if isinstance(block, dict) and isinstance(block.get(keys[0]), int):
            out = block.get(keys[1], 0)
            return block[keys[0]], out if isinstance(out, int) else 0
    return None
