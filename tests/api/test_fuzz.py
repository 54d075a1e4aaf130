"""Fuzz the running API from its own OpenAPI document (schemathesis): bad input is never a 5xx.

The server runs in the test's event loop; the schemathesis/hypothesis driver is synchronous
(requests), so it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jsonschema_rs
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from llamadash.api.inputs import MAX_TIMEOUT
from llamadash.api.openapi import document
from llamadash.api.proxy import PROXIED_PATHS
from llamadash.api.server import ApiServer
from llamadash.core.context import Engine

pytestmark = pytest.mark.engine

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
STREAMING = {"/events"}  # an endless response; covered by test_events.py
SWITCH_BODIES = {"/switch", "/instances"}  # the paths whose body is a SwitchRequest


def open_document() -> dict[str, Any]:
    """The document as a token-less server has it: no security to negate (tokens are tested in
    test_concurrency_and_token.py), so every negative case is a malformed body or query."""
    doc = document()
    doc["security"] = []
    del doc["components"]["securitySchemes"]
    return doc


def sent_is_valid(path: str, sent: requests.PreparedRequest) -> bool:
    """Whether the request *as it goes on the wire* satisfies the document.

    Negative generation is not always negative once serialized (a ``null`` or ``[{}]`` query
    value is dropped, whitespace is an empty optional body); such cases are skipped here, the
    valid ones are tested elsewhere.
    """
    items = parse_qsl(urlsplit(str(sent.url)).query, keep_blank_values=True)
    keys = [k for k, _ in items]
    if set(keys) - {"timeout"} or len(keys) != len(set(keys)):
        return False
    for _, value in items:
        try:
            seconds = float(value)
        except ValueError:
            return False
        if not (math.isfinite(seconds) and 0 < seconds <= MAX_TIMEOUT):
            return False
    raw = sent.body.encode() if isinstance(sent.body, str) else (sent.body or b"")
    if path in PROXIED_PATHS:  # forwarded as it is: any JSON object is a valid body
        try:
            return isinstance(json.loads(raw), dict)
        except (ValueError, RecursionError):
            return False
    if raw.strip():
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            return False
    else:
        body = None if path in SWITCH_BODIES else {}
    if path == "/pull" and body is None:
        return False  # the body is required
    names = {"/pull": "PullRequest"}
    name = names.get(path, "SwitchRequest" if path in SWITCH_BODIES else "StopRequest")
    schema = document()["components"]["schemas"][name]
    return bool(jsonschema_rs.validator_for(schema).is_valid(body)) and not _non_finite(body)


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    return isinstance(value, list) and any(_non_finite(v) for v in value)


def run_fuzz(
    base_url: str, mode: GenerationMode, keep: Callable[[Any], bool], examples: int
) -> dict[str, int]:
    """Drive every kept operation with ``examples`` generated cases; returns status counts."""
    schema = schemathesis.openapi.from_dict(open_document())
    seen: dict[str, int] = {}
    if mode == GenerationMode.NEGATIVE:
        checks = [*CHECKS, negative_data_rejection]
    else:  # a valid but tiny timeout is a documented 504; only a 500 would be a bug
        checks = [c for c in CHECKS if c is not not_a_server_error]
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in STREAMING or not keep(operation):
            continue

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def fuzz(case: Any) -> None:
            if mode == GenerationMode.NEGATIVE:
                sent = case.as_transport_kwargs(base_url=base_url)
                sent.pop("cookies", None)
                prepared = requests.Request(**sent).prepare()
                assume(not sent_is_valid(case.path, prepared))
            response = case.call(base_url=base_url, timeout=30)
            key = f"{case.method} {case.path} {response.status_code}"
            seen[key] = seen.get(key, 0) + 1
            case.validate_response(response, checks=checks)

        fuzz()
    return seen


async def test_malformed_input_never_reaches_the_engine_nor_fails_the_server(
    make_api: Any, engine_c: Engine
) -> None:
    api: ApiServer = await make_api(token="")
    seen = await asyncio.to_thread(
        run_fuzz, api.url, GenerationMode.NEGATIVE, lambda op: op.method == "post", 200
    )  # (the GET routes take no input: nothing to make invalid)
    assert not any(key.endswith(("500", "502", "503", "504")) for key in seen), seen
    assert any(key.startswith("POST /switch 400") for key in seen), seen
    assert any(key.startswith("POST /stop 400") for key in seen), seen
    assert any(key.startswith("POST /instances 400") for key in seen), seen
    # Nothing malformed started a switch or a download.
    assert engine_c.switcher.stats.switches == 0 and engine_c.switcher.stats.failures == 0
    assert api.context.pulls.jobs == {}


async def test_valid_reads_and_stops_conform_to_the_document(make_api: Any) -> None:
    api: ApiServer = await make_api(token="")
    seen = await asyncio.to_thread(
        run_fuzz,
        api.url,
        GenerationMode.POSITIVE,
        lambda op: op.method != "post" or op.path not in {*SWITCH_BODIES, *PROXIED_PATHS, "/pull"},
        25,
    )  # (a valid switch, start or completion loads a model: test_routes.py,
    # test_instances.py, tests/e2e/test_proxy.py; a valid pull reaches the Hub: test_pull_api)
    assert not any(key.endswith("500") for key in seen), seen
    assert any(key.startswith("GET /status 200") for key in seen), seen
    assert any(key.startswith("POST /stop 200") for key in seen), seen
    assert any(key.startswith("GET /instances 200") for key in seen), seen
    assert any(key.startswith("DELETE /instances 200") for key in seen), seen
    assert any(key.startswith("DELETE /instances/{id} 404") for key in seen), seen


async def test_unknown_model_names_are_404s_never_5xx(make_api: Any, engine_c: Engine) -> None:
    """Positive /switch bodies with names no profile matches: every answer is a 404."""
    from hypothesis import strategies as st

    from llamadash.core.profiles import UnknownProfileError

    api: ApiServer = await make_api(token="")
    profiles = engine_c.profiles

    def unknown(name: str) -> bool:
        try:
            profiles.resolve(name)
        except UnknownProfileError:
            return True
        return False

    names = st.text(min_size=1, max_size=200).filter(unknown)
    schema = schemathesis.openapi.from_dict(open_document())
    operation = schema.find_operation_by_path("POST", "/switch")
    assert operation is not None
    strategy = operation.as_strategy(body=None, query={}, media_type="application/json").flatmap(
        lambda case: names.map(lambda n: (case, n))
    )

    @settings(
        max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(pair=strategy, wait=st.booleans(), restart=st.booleans())
    def fuzz(pair: tuple[Any, str], wait: bool, restart: bool) -> None:
        case, name = pair
        case.body = {"model": name, "wait": wait, "restart": restart}
        case.query = {}
        response = case.call(base_url=api.url, timeout=30)
        assert response.status_code == 404, response.text
        case.validate_response(response, checks=CHECKS)

    await asyncio.to_thread(fuzz)
    assert engine_c.switcher.stats.switches == 0
