"""Request bodies and query parameters, validated into typed values or a 400 naming the problem.

The request shapes below declare each field and its limits once: ``schemas.py`` derives the
OpenAPI schemas from them and the validators here read the same constants and field names.
Fuzzing checks that nothing malformed gets past the validators to the switcher.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from msgspec import Meta, Struct
from starlette.requests import Request

from llamadash.api.errors import ApiError, bad_request

MAX_BODY_BYTES = 16 * 1024
MIN_MODEL_CHARS = 1
MAX_MODEL_CHARS = 200
MAX_TIMEOUT = 86_400.0

Timeout = Annotated[float, Meta(gt=0, le=MAX_TIMEOUT)]
"""Seconds to wait for an outcome: a finite number in (0, MAX_TIMEOUT] (``check_timeout``)."""
TIMEOUT_HELP = "seconds to wait (default: switch_timeout setting)"


class SwitchRequest(Struct, frozen=True, forbid_unknown_fields=True):
    """A validated ``POST /switch`` body."""

    model: Annotated[
        str,
        Meta(
            min_length=MIN_MODEL_CHARS,
            max_length=MAX_MODEL_CHARS,
            description="profile id, menu number (2, b1), id prefix or name",
        ),
    ]
    wait: Annotated[bool, Meta(description="false: answer 202 at once, the switch runs on")] = True
    restart: Annotated[bool, Meta(description="restart even if this profile is already ready")] = (
        False
    )
    timeout: Annotated[Timeout, Meta(description=TIMEOUT_HELP)] | None = None
    """Seconds to wait for the outcome (body, else ``?timeout=``); None = switch_timeout."""
    exact: Annotated[
        bool,
        Meta(
            description="model is an exact profile id: 404 unless models.conf has it now"
            " (never matched by number, prefix or name)"
        ),
    ] = False
    """``model`` is a profile id the caller resolved (the CLI): never matched fuzzily."""


class StopRequest(Struct, frozen=True, forbid_unknown_fields=True):
    """A validated ``POST /stop`` body (the body is optional)."""

    wait: bool = True
    timeout: Timeout | None = None


SWITCH_KEYS = SwitchRequest.__struct_fields__
STOP_KEYS = StopRequest.__struct_fields__
QUERY_KEYS = ("timeout",)


async def read_body(request: Request) -> bytes:
    """The raw body, at most MAX_BODY_BYTES.

    Raises:
        ApiError: 413 when the body is larger.
    """
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY_BYTES:
            raise ApiError(413, "body_too_large", f"the body is larger than {MAX_BODY_BYTES} bytes")
    return bytes(data)


def json_object(raw: bytes, *, required: bool, example: str) -> dict[str, Any]:
    """Decode ``raw`` as one JSON object; an empty body is ``{}`` unless ``required``.

    Raises:
        ApiError: 400 naming what is wrong (empty, not JSON, not an object, not Unicode).
    """
    if not raw.strip():
        if required:
            raise bad_request(f"the body is empty; send a JSON object such as {example}")
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        reason = exc if isinstance(exc, ValueError) else "nested too deeply"
        raise bad_request(f"the body is not valid JSON ({reason}); send e.g. {example}") from None
    if not isinstance(value, dict):
        raise bad_request(f"the body must be a JSON object such as {example}, not {kind(value)}")
    bad = _lone_surrogate(value)
    if bad is not None:
        # JSON lets "\ud800" through, but no answer quoting it could be encoded as UTF-8.
        raise bad_request(
            f"the body has a string with a lone UTF-16 surrogate ({bad}); send valid Unicode"
        )
    return value


def _lone_surrogate(value: object) -> str | None:
    """A string (key or value) in ``value`` that is not valid Unicode, escaped; else None."""
    pending = [value]  # a loop, not recursion: json.loads accepts nesting deeper than we may
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(x for pair in item.items() for x in pair)
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return ascii(item[:40])
    return None


def kind(value: object) -> str:
    """The JSON type name of a decoded value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def no_unknown_keys(body: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    """400 naming the fields of ``body`` that are not ``allowed``."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        names = ", ".join(repr(k) for k in unknown)
        raise bad_request(
            f"unknown field(s) {names}; allowed: {', '.join(allowed)}", fields=unknown
        )


def _defaults(shape: type[Struct]) -> dict[str, Any]:
    """A Struct's field defaults by name (the fields with a default come last)."""
    names, values = shape.__struct_fields__, shape.__struct_defaults__
    return dict(zip(names[len(names) - len(values) :], values, strict=True))


_DEFAULTS = {shape: _defaults(shape) for shape in (SwitchRequest, StopRequest)}


def _flag(body: Mapping[str, Any], key: str, shape: type[SwitchRequest | StopRequest]) -> bool:
    """``body[key]``, true or false; absent, the shape's default (declared there only)."""
    value = body[key] if key in body else _DEFAULTS[shape][key]
    if not isinstance(value, bool):
        raise bad_request(f"'{key}' must be true or false, not {kind(value)}", field=key)
    return value


def check_timeout(value: object, where: str) -> float:
    """A timeout in seconds: a finite number in (0, MAX_TIMEOUT].

    Raises:
        ApiError: 400 naming ``where`` the bad value came from.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_request(
            f"{where} must be a number of seconds, not {kind(value)}", field="timeout"
        )
    seconds = float(value)
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_TIMEOUT:
        raise bad_request(
            f"{where} must be more than 0 and at most {MAX_TIMEOUT:.0f} seconds, got {value!r}",
            field="timeout",
        )
    return seconds


def check_query_keys(keys: Iterable[str], allowed: tuple[str, ...] = QUERY_KEYS) -> None:
    """Refuse unknown or repeated query parameters.

    Raises:
        ApiError: 400 naming them.
    """
    names = list(keys)
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        raise bad_request(
            f"unknown query parameter(s) {', '.join(repr(k) for k in unknown)};"
            f" allowed: {', '.join(allowed)}",
            fields=unknown,
        )
    repeated = sorted({k for k in names if names.count(k) > 1})
    if repeated:
        raise bad_request(
            f"query parameter {repeated[0]!r} given more than once", field=repeated[0]
        )


def query_timeout(query: Mapping[str, str]) -> float | None:
    """``?timeout=<seconds>``, or None when absent.

    Raises:
        ApiError: 400 when it is not a positive number.
    """
    text = query.get("timeout")
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise bad_request(
            f"query parameter 'timeout' must be a number of seconds, got {text!r}",
            field="timeout",
        ) from None
    return check_timeout(value, "query parameter 'timeout'")


def _timeout(body: Mapping[str, Any], query: Mapping[str, str]) -> float | None:
    """The body's ``timeout`` wins over ``?timeout=``; both are validated."""
    from_query = query_timeout(query)
    if "timeout" in body:
        return check_timeout(body["timeout"], "'timeout'")
    return from_query


def parse_switch(raw: bytes, query: Mapping[str, str]) -> SwitchRequest:
    """Validate a ``POST /switch`` body (and its ``?timeout=``).

    Raises:
        ApiError: 400 naming the first problem found.
    """
    body = json_object(raw, required=True, example='{"model": "<id or name>"}')
    no_unknown_keys(body, SWITCH_KEYS)
    if "model" not in body:
        raise bad_request("missing field 'model' (a profile id or name)", field="model")
    model = body["model"]
    if not isinstance(model, str):
        raise bad_request(f"'model' must be a string, not {kind(model)}", field="model")
    if not MIN_MODEL_CHARS <= len(model) <= MAX_MODEL_CHARS:
        raise bad_request(
            f"'model' must be {MIN_MODEL_CHARS} to {MAX_MODEL_CHARS} characters long,"
            f" got {len(model)}",
            field="model",
        )
    return SwitchRequest(
        model=model,
        wait=_flag(body, "wait", SwitchRequest),
        restart=_flag(body, "restart", SwitchRequest),
        timeout=_timeout(body, query),
        exact=_flag(body, "exact", SwitchRequest),
    )


def parse_stop(raw: bytes, query: Mapping[str, str]) -> StopRequest:
    """Validate a ``POST /stop`` body (optional) and its ``?timeout=``.

    Raises:
        ApiError: 400 naming the first problem found.
    """
    body = json_object(raw, required=False, example='{"wait": true}')
    no_unknown_keys(body, STOP_KEYS)
    return StopRequest(wait=_flag(body, "wait", StopRequest), timeout=_timeout(body, query))
