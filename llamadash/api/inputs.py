"""Request bodies and query parameters, validated into typed values or a 400 naming the problem.

The rules here are the ones the OpenAPI document states (``openapi.py``); a test keeps the two
in step, and fuzzing checks that nothing malformed gets past them to the switcher.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from llamadash.api.errors import ApiError, bad_request

MAX_BODY_BYTES = 16 * 1024
MAX_MODEL_CHARS = 200
MAX_TIMEOUT = 86_400.0
SWITCH_KEYS = ("model", "wait", "restart", "timeout", "exact")
STOP_KEYS = ("wait", "timeout")
QUERY_KEYS = ("timeout",)


@dataclass(frozen=True)
class SwitchRequest:
    """A validated ``POST /switch`` body."""

    model: str
    wait: bool = True
    restart: bool = False
    timeout: float | None = None
    """Seconds to wait for the outcome; None = the configured switch_timeout."""
    exact: bool = False
    """``model`` is a profile id the caller resolved (the CLI): never matched fuzzily."""


@dataclass(frozen=True)
class StopRequest:
    """A validated ``POST /stop`` body (the body is optional)."""

    wait: bool = True
    timeout: float | None = None


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


def _no_unknown_keys(body: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        names = ", ".join(repr(k) for k in unknown)
        raise bad_request(
            f"unknown field(s) {names}; allowed: {', '.join(allowed)}", fields=unknown
        )


def _flag(body: Mapping[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
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
    _no_unknown_keys(body, SWITCH_KEYS)
    if "model" not in body:
        raise bad_request("missing field 'model' (a profile id or name)", field="model")
    model = body["model"]
    if not isinstance(model, str):
        raise bad_request(f"'model' must be a string, not {kind(model)}", field="model")
    if not 1 <= len(model) <= MAX_MODEL_CHARS:
        raise bad_request(
            f"'model' must be 1 to {MAX_MODEL_CHARS} characters long, got {len(model)}",
            field="model",
        )
    return SwitchRequest(
        model=model,
        wait=_flag(body, "wait", True),
        restart=_flag(body, "restart", False),
        timeout=_timeout(body, query),
        exact=_flag(body, "exact", False),
    )


def parse_stop(raw: bytes, query: Mapping[str, str]) -> StopRequest:
    """Validate a ``POST /stop`` body (optional) and its ``?timeout=``.

    Raises:
        ApiError: 400 naming the first problem found.
    """
    body = json_object(raw, required=False, example='{"wait": true}')
    _no_unknown_keys(body, STOP_KEYS)
    return StopRequest(wait=_flag(body, "wait", True), timeout=_timeout(body, query))
