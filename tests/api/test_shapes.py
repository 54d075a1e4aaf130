"""The component schemas are derived from the declared shapes (schemas.components)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

import jsonschema_rs
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from msgspec import UNSET, Meta, UnsetType

from llamadash.api.errors import ApiError
from llamadash.api.inputs import (
    MAX_MODEL_CHARS,
    MAX_TIMEOUT,
    STOP_KEYS,
    SWITCH_KEYS,
    StopRequest,
    SwitchRequest,
    parse_stop,
    parse_switch,
)
from llamadash.api.openapi import document
from llamadash.api.schemas import INPUTS, OUTPUTS, components, derived


class Colour(StrEnum):
    """A colour."""

    RED = "red"
    GREEN = "green"
    BLUE = "blue"  # declared last, sorted first by msgspec


@dataclass(frozen=True)
class Inner:
    """Held by Shape."""

    x: float


@dataclass(frozen=True)
class Shape:
    """A throwaway answer."""

    name: str
    colour: Colour
    note: str | None
    count: int = 0
    inner: Inner | None = None
    lines: tuple[str, ...] = ()
    hint: str | UnsetType = UNSET


@dataclass(frozen=True)
class Body:
    """A throwaway request body."""

    name: Annotated[str, Meta(min_length=1, max_length=9, description="who")]
    level: Annotated[float, Meta(gt=0, le=5)] | None = None
    loud: bool = False


def test_an_answer_requires_every_field_but_the_unset_ones() -> None:
    assert components([Shape]) == {
        "Colour": {"description": "A colour.", "type": "string", "enum": ["red", "green", "blue"]},
        "Inner": {
            "description": "Held by Shape.",
            "type": "object",
            "properties": {"x": {"type": "number"}},
            "required": ["x"],
        },
        "Shape": {
            "description": "A throwaway answer.",
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "colour": {"$ref": "#/components/schemas/Colour"},
                "note": {"type": ["string", "null"]},
                "count": {"type": "integer"},
                "inner": {"anyOf": [{"$ref": "#/components/schemas/Inner"}, {"type": "null"}]},
                "lines": {"type": "array", "items": {"type": "string"}},
                "hint": {"type": "string"},
            },
            "required": ["name", "colour", "note", "count", "inner", "lines"],
        },
    }


def test_a_body_refuses_unknown_fields_and_null_and_states_its_limits() -> None:
    assert components([], [Body]) == {
        "Body": {
            "description": "A throwaway request body.",
            "type": "object",
            "properties": {
                "name": {"description": "who", "type": "string", "maxLength": 9, "minLength": 1},
                "level": {"type": "number", "exclusiveMinimum": 0, "maximum": 5},
                "loud": {"type": "boolean", "default": False},
            },
            "required": ["name"],
            "additionalProperties": False,
        }
    }


def test_a_field_added_to_a_shape_is_in_the_schema_with_no_other_edit() -> None:
    before = dataclasses.make_dataclass("Grown", [("a", str)], frozen=True)
    after = dataclasses.make_dataclass(
        "Grown", [("a", str), ("instance", str | None, field(default=None))], frozen=True
    )
    old, new = components([before])["Grown"], components([after])["Grown"]
    assert old["properties"] == {"a": {"type": "string"}} and old["required"] == ["a"]
    assert new["properties"] == {"a": {"type": "string"}, "instance": {"type": ["string", "null"]}}
    assert new["required"] == ["a", "instance"]  # an answer always carries it
    nested = dataclasses.make_dataclass("Pool", [("members", tuple[after, ...])], frozen=True)
    assert components([nested])["Grown"] == new  # and where it is held, too


def test_a_shape_both_sent_and_received_or_two_shapes_of_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="both sent and received"):
        components([Shape], [Shape])
    twin = dataclasses.make_dataclass("Inner", [("y", int)], frozen=True)
    holder = dataclasses.make_dataclass("Holder", [("a", Inner), ("b", twin)], frozen=True)
    with pytest.raises(ValueError, match="Inner"):
        components([holder])


def refs(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[1]} if "$ref" in node else set()
        return found.union(*(refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(v) for v in node))
    return set()


def reachable_only_from(names: set[str]) -> set[str]:
    """The schemas that only the streamed payloads refer to (the collectors' snapshots)."""
    schemas = derived()
    return set().union(*(refs(schemas[name]) for name in names))


def test_the_document_holds_the_derived_schemas_each_one_used() -> None:
    doc = document()
    assert doc["components"]["schemas"] == derived() == components(OUTPUTS, INPUTS)
    # Every reference resolves; none is unused but the payloads of the event streams (named in
    # their summaries: OpenAPI has no schema for the data of an event stream).
    streamed = {"SwitchEvent", "DashboardHello", "DashboardSample", "DashboardLogs"}
    unused = set(derived()) - refs(doc)
    assert unused <= streamed | reachable_only_from(streamed), unused
    assert "SwitchEvent" in doc["paths"]["/events"]["get"]["summary"]
    for name in streamed - {"SwitchEvent"}:
        assert name in doc["paths"]["/dashboard"]["get"]["summary"]
    assert tuple(derived()["SwitchRequest"]["properties"]) == SWITCH_KEYS
    assert tuple(derived()["StopRequest"]["properties"]) == STOP_KEYS


# --- the validators and the derived request schemas agree ------------------------------------
ANY = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False)
    | st.text(max_size=5)
    | st.lists(st.integers(), max_size=2)
)
EDGES = st.sampled_from(
    [0, 0.0, -0.0, 1e-300, MAX_TIMEOUT, MAX_TIMEOUT + 1e-9, "", "m" * (MAX_MODEL_CHARS + 1)]
)
VALID = {
    "model": st.text(min_size=1, max_size=8)
    | st.sampled_from([1, 2, MAX_MODEL_CHARS - 1, MAX_MODEL_CHARS]).map(lambda n: "m" * n),
    "timeout": st.floats(0, MAX_TIMEOUT, exclude_min=True) | st.integers(1, 9) | st.just(1e-300),
}


def bodies(keys: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    """A valid body, as is, with one field dropped, or with one set to anything or an edge."""
    values = {key: VALID.get(key, st.booleans()) for key in keys}
    required = {k: v for k, v in values.items() if k == "model"}
    optional = {k: v for k, v in values.items() if k not in required}
    valid = st.fixed_dictionaries(required, optional=optional)
    dropped = st.tuples(valid, st.sampled_from(keys)).map(
        lambda pair: {k: v for k, v in pair[0].items() if k != pair[1]}
    )
    changed = st.tuples(valid, st.sampled_from((*keys, "extra")), ANY | EDGES).map(
        lambda t: {**t[0], t[1]: t[2]}
    )
    return valid | dropped | changed


def accepted(parse: Any, body: dict[str, Any]) -> bool:
    try:
        parse(json.dumps(body).encode(), {})
    except ApiError as exc:
        assert exc.http_status == 400
        return False
    return True


@settings(max_examples=600, deadline=None)
@given(switch=bodies(SWITCH_KEYS), stop=bodies(STOP_KEYS))
@example({"model": "m" * MAX_MODEL_CHARS}, {"timeout": MAX_TIMEOUT})
@example({"model": "m" * (MAX_MODEL_CHARS + 1)}, {"timeout": MAX_TIMEOUT + 1e-9})
@example({"model": "", "timeout": 1e-300}, {"timeout": 0})
def test_a_body_passes_the_validator_exactly_when_it_matches_the_schema(
    switch: dict[str, Any], stop: dict[str, Any]
) -> None:
    for parse, body, name in (
        (parse_switch, switch, "SwitchRequest"),
        (parse_stop, stop, "StopRequest"),
    ):
        schema = jsonschema_rs.validator_for(derived()[name])
        ok = accepted(parse, body)
        event(f"{name} {'accepted' if ok else 'refused'}")
        assert ok == schema.is_valid(body), (name, body)


def test_an_empty_body_gets_the_declared_defaults() -> None:
    assert parse_switch(b'{"model": "m"}', {}) == SwitchRequest("m")
    assert parse_stop(b"", {}) == StopRequest()
    defaults = {
        name: prop["default"]
        for name, prop in derived()["SwitchRequest"]["properties"].items()
        if "default" in prop
    }
    assert defaults == {"wait": True, "restart": False, "exact": False}
    assert {k: getattr(SwitchRequest("m"), k) for k in defaults} == defaults
