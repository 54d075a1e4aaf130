"""Body and query validation: every malformed input is a 400 that names the problem."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llamadash.api.errors import ApiError
from llamadash.api.inputs import (
    MAX_MODEL_CHARS,
    StopRequest,
    SwitchRequest,
    parse_stop,
    parse_switch,
)


def switch(body: Any, query: dict[str, str] | None = None) -> SwitchRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_switch(raw, query or {})


def test_a_minimal_body_gets_the_defaults() -> None:
    assert switch({"model": "tiny"}) == SwitchRequest("tiny", wait=True, restart=False)


def test_every_field_is_read() -> None:
    asked = switch({"model": "Gemma", "wait": False, "restart": True, "timeout": 2.5})
    assert asked == SwitchRequest("Gemma", wait=False, restart=True, timeout=2.5)


def test_timeout_from_the_query_and_the_body_wins() -> None:
    assert switch({"model": "x"}, {"timeout": "7"}).timeout == 7.0
    assert switch({"model": "x", "timeout": 3}, {"timeout": "7"}).timeout == 3.0


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[" * 5000 + b"]" * 5000, "JSON"),
        ([1, 2], "JSON object"),
        ("tiny", "JSON object"),
        (None, "JSON object"),
        ({}, "missing field 'model'"),
        ({"wait": False}, "missing field 'model'"),
        ({"model": 3}, "'model' must be a string, not a number"),
        ({"model": None}, "'model' must be a string, not null"),
        ({"model": ""}, "1 to 200 characters"),
        ({"model": "x" * (MAX_MODEL_CHARS + 1)}, "1 to 200 characters"),
        ({"model": "tiny", "wait": "no"}, "'wait' must be true or false, not a string"),
        ({"model": "tiny", "wait": 0}, "'wait' must be true or false, not a number"),
        ({"model": "tiny", "restart": None}, "'restart' must be true or false"),
        ({"model": "tiny", "timeout": "5"}, "'timeout' must be a number"),
        ({"model": "tiny", "timeout": True}, "'timeout' must be a number"),
        ({"model": "tiny", "timeout": 0}, "more than 0"),
        ({"model": "tiny", "timeout": -1}, "more than 0"),
        ({"model": "tiny", "timeout": 1e9}, "at most 86400"),
        ({"model": "tiny", "modle": "x"}, "unknown field(s) 'modle'"),
    ],
)
def test_malformed_switch_bodies_are_named(body: Any, needle: str) -> None:
    with pytest.raises(ApiError) as caught:
        switch(body)
    assert caught.value.http_status == 400
    assert caught.value.code == "bad_request"
    assert needle in caught.value.message


@pytest.mark.parametrize("text", ["abc", "", "0", "-3", "nan", "inf", "1e99"])
def test_a_bad_query_timeout_is_a_400(text: str) -> None:
    with pytest.raises(ApiError) as caught:
        switch({"model": "tiny"}, {"timeout": text})
    assert caught.value.http_status == 400
    assert "query parameter 'timeout'" in caught.value.message


def test_non_finite_numbers_in_the_body_are_refused() -> None:
    with pytest.raises(ApiError, match="more than 0"):
        parse_switch(b'{"model": "tiny", "timeout": NaN}', {})


def test_a_body_that_is_too_deep_is_a_400_not_a_crash() -> None:
    with pytest.raises(ApiError):
        parse_switch(b'{"model": ' + b"[" * 100_000 + b"}", {})


def test_a_lone_surrogate_deep_inside_is_named_without_recursion() -> None:
    depth = 900  # json.loads takes it; a recursive walk of it could overflow the stack
    raw = b'{"x":' * depth + b'"\\ud800"' + b"}" * depth
    with pytest.raises(ApiError, match=r"lone UTF-16 surrogate \('\\ud800'\)") as caught:
        parse_stop(raw, {})
    assert caught.value.http_status == 400


def test_stop_body_is_optional() -> None:
    assert parse_stop(b"", {}) == StopRequest()
    assert parse_stop(b"{}", {"timeout": "4"}) == StopRequest(timeout=4.0)
    assert parse_stop(b'{"wait": false}', {}) == StopRequest(wait=False)
    with pytest.raises(ApiError, match="unknown field"):
        parse_stop(b'{"model": "tiny"}', {})
    with pytest.raises(ApiError, match="JSON object"):
        parse_stop(b"[]", {})


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
BODIES = st.one_of(
    st.binary(max_size=200),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"model": JSON_VALUES},
        optional={"wait": JSON_VALUES, "restart": JSON_VALUES, "timeout": JSON_VALUES},
    ).map(lambda v: json.dumps(v).encode()),
)


@settings(max_examples=400, deadline=None)
@given(body=BODIES, query=st.dictionaries(st.sampled_from(["timeout", "x"]), st.text(max_size=10)))
def test_any_input_is_either_accepted_or_a_400(body: bytes, query: dict[str, str]) -> None:
    for parse in (parse_switch, parse_stop):
        try:
            parsed = parse(body, query)
        except ApiError as exc:
            assert exc.http_status == 400 and exc.message
            continue
        if isinstance(parsed, SwitchRequest):
            assert isinstance(parsed.model, str) and 1 <= len(parsed.model) <= MAX_MODEL_CHARS
        assert isinstance(parsed.wait, bool)
        assert parsed.timeout is None or 0 < parsed.timeout <= 86_400
