"""The OpenAPI document matches the app's routes and the engine's dataclasses."""

from __future__ import annotations

import dataclasses
from typing import cast

import pytest
from starlette.routing import Route

from llamadash.api.app import create_app
from llamadash.api.inputs import MAX_MODEL_CHARS, MAX_TIMEOUT, STOP_KEYS, SWITCH_KEYS
from llamadash.api.openapi import document
from llamadash.api.proxy import PROXIED_PATHS
from llamadash.core.events import Result, State, Status, SwitchEvent, SwitchOutcome
from llamadash.core.instance import Instance
from llamadash.core.progress import Progress

HTTP_METHODS = {"get", "post", "put", "patch", "delete", "options", "trace"}


def app_routes() -> set[tuple[str, str]]:
    app = create_app(cast(Instance, object()))
    pairs = set()
    for route in app.routes:
        assert isinstance(route, Route), route
        for method in route.methods or ():
            if method != "HEAD":  # Starlette adds HEAD to every GET
                pairs.add((route.path, method.lower()))
    return pairs


def document_routes() -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in document()["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    assert app_routes() == document_routes()
    assert len(app_routes()) == 14 + 1 + len(PROXIED_PATHS)  # the side API, /v1/models, /v1/*


def test_the_document_is_a_valid_openapi_3_1_document() -> None:
    import schemathesis

    schema = schemathesis.openapi.from_dict(document())
    schema.validate()  # against the OpenAPI 3.1 meta-schema
    assert list(schema.iter_schema_warnings()) == []
    broken = document()
    del broken["paths"]["/status"]["get"]["responses"]["200"]["description"]
    with pytest.raises(Exception, match="description"):
        schemathesis.openapi.from_dict(broken).validate()


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("Status", Status),
        ("SwitchEvent", SwitchEvent),
        ("SwitchOutcome", SwitchOutcome),
        ("Progress", Progress),
    ],
)
def test_schemas_list_exactly_the_dataclass_fields(name: str, cls: type) -> None:
    schema = document()["components"]["schemas"][name]
    fields = {f.name for f in dataclasses.fields(cls)}
    assert set(schema["properties"]) == fields
    assert set(schema["required"]) == fields


def test_enums_follow_the_engine() -> None:
    schemas = document()["components"]["schemas"]
    assert schemas["State"]["enum"] == [s.value for s in State]  # in the engine's order
    assert schemas["Result"]["enum"] == [r.value for r in Result]
    for name in ("Status", "SwitchEvent", "Models"):
        assert schemas[name]["properties"]["state"] == {"$ref": "#/components/schemas/State"}
    assert schemas["SwitchOutcome"]["properties"]["result"] == {
        "$ref": "#/components/schemas/Result"
    }


def test_request_schemas_follow_the_validators() -> None:
    schemas = document()["components"]["schemas"]
    switch = schemas["SwitchRequest"]
    assert tuple(switch["properties"]) == SWITCH_KEYS
    assert switch["required"] == ["model"] and switch["additionalProperties"] is False
    assert switch["properties"]["model"]["maxLength"] == MAX_MODEL_CHARS
    assert switch["properties"]["timeout"]["maximum"] == MAX_TIMEOUT
    assert tuple(schemas["StopRequest"]["properties"]) == STOP_KEYS


def test_switch_documents_every_status_code() -> None:
    responses = document()["paths"]["/switch"]["post"]["responses"]
    expected = {"200", "202", "400", "401", "403", "404", "409", "413", "421", "502", "503", "504"}
    assert set(responses) == expected
    assert "Location" in responses["202"]["headers"]


def test_healthz_needs_no_token() -> None:
    assert document()["paths"]["/healthz"]["get"]["security"] == []
