"""What a /v1/* request asks for: its body, the model it names, and the answer's token counts."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from starlette.types import Receive

from llamadash.core.demand_types import DemandRefused
from llamadash.core.profiles import ProfileSet, UnknownProfileError

MAX_REQUEST_BODY = 64 * 1024 * 1024  # a long prompt with images, not a file upload
TAIL_BYTES = 16 * 1024  # where the answer's usage or timings are


class _NamesModel(msgspec.Struct):
    """Only the ``model`` of a request body (the rest is not decoded)."""

    model: Any = None


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


def named_model(body: bytes, header: str | None) -> str | None:
    """The model a request names: the ``X-Model-Id`` header, else the body's ``model``.

    The body is checked first either way: nothing malformed starts a model.

    Raises:
        DemandRefused: 400 the body is not a JSON object, or ``model`` is not a string.
    """
    try:
        asked = msgspec.json.decode(body, type=_NamesModel)
    except msgspec.DecodeError as exc:
        raise DemandRefused(
            400, "invalid_json", f"the body must be a JSON object ({exc})"
        ) from None
    if header and header.strip():
        return header.strip()
    if asked.model is None:
        return None
    if not isinstance(asked.model, str):
        raise DemandRefused(400, "invalid_model", "model must be a string (a profile id)")
    return asked.model.strip() or None


def resolve_model(profiles: ProfileSet, asked: str) -> str:
    """The profile id ``asked`` means: exact id first, then the CLI's matching rules.

    Raises:
        DemandRefused: 404 with near matches (never another profile).
    """
    if profiles.get(asked) is not None:
        return asked
    try:
        return profiles.resolve(asked).id
    except UnknownProfileError as exc:
        near = f"; did you mean {', '.join(exc.suggestions)}?" if exc.suggestions else ""
        known = ", ".join(p.id for p in profiles.profiles) or "none"
        raise DemandRefused(
            404, "model_not_found", f"no model {asked!r}{near} (models: {known}; GET /v1/models)"
        ) from None


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
