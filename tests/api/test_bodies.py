"""JSON bodies over real HTTP: what json.loads accepts but is no text is a 400, never a 500."""

from __future__ import annotations

import httpx
import pytest

from llamadash.api.openapi import document
from llamadash.api.proxy import PROXIED_PATHS
from llamadash.core.context import Engine
from tests.api.conftest import refused

pytestmark = pytest.mark.engine


def json_routes() -> list[str]:
    """Every documented route that takes a JSON body."""
    return [
        path
        for path, item in document()["paths"].items()
        for operation in item.values()
        if "requestBody" in operation
    ]


@pytest.mark.parametrize(
    "body",
    [
        b'{"\\ud800": 1}',  # a key: the unknown-field error would quote it
        b'{"model": "\\udfff"}',
        b'{"model": "tiny", "restart": false, "x": ["\\ud83d"]}',
        b'{"model": "\xed\xa0\x80"}',  # the surrogate as raw (invalid) UTF-8 bytes
    ],
)
async def test_a_lone_surrogate_is_a_400_on_every_json_route(
    client: httpx.AsyncClient, engine_c: Engine, body: bytes
) -> None:
    routes = json_routes()
    assert set(routes) == {"/switch", "/stop", "/instances", "/pull", *PROXIED_PATHS}
    for path in routes:
        reply = await client.post(path, content=body)
        if path in PROXIED_PATHS:  # OpenAI's error shape; nothing is forwarded or started
            assert reply.status_code == 400, reply.text
            assert reply.json()["error"]["code"] == "invalid_json", reply.text
            continue
        message = refused(reply, 400, "bad_request")
        assert "lone UTF-16 surrogate" in message, message
    assert engine_c.switcher.stats.switches == 0 and not engine_c.switcher.busy
