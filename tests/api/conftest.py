"""A real ApiServer on a free loopback port, in the test's event loop, over a real Engine."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from llamadash.api.server import ApiServer
from llamadash.core.context import Engine
from tests.e2e.conftest import all_models, engine_c, make_engine  # noqa: F401

ApiFactory = Callable[..., Awaitable[ApiServer]]


@pytest.fixture
async def make_api(engine_c: Engine) -> AsyncIterator[ApiFactory]:  # noqa: F811
    """Start ApiServers over ``engine_c``'s pool (port 0: the OS picks a free one)."""
    servers: list[ApiServer] = []
    await engine_c.pool.adopt()

    async def make(**kwargs: Any) -> ApiServer:
        kwargs.setdefault("host", "127.0.0.1")
        kwargs.setdefault("port", 0)
        kwargs.setdefault("pool", engine_c.pool)
        kwargs.setdefault("idle", engine_c.idle)
        server = ApiServer(engine_c.switcher, **kwargs)
        await server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.stop()


@pytest.fixture
async def api(make_api: ApiFactory) -> ApiServer:
    """One ApiServer without a token (keepalive every 0.5 s so tests see it)."""
    return await make_api(token="", keepalive=0.5)


@pytest.fixture
async def client(api: ApiServer) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the API (loopback only)."""
    async with httpx.AsyncClient(base_url=api.url, timeout=120) as http:
        yield http


async def wait_status(
    http: httpx.AsyncClient,
    predicate: Callable[[dict[str, Any]], bool],
    timeout: float = 90.0,
) -> dict[str, Any]:
    """Poll GET /status until ``predicate`` holds."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        reply = await http.get("/status")
        assert reply.status_code == 200, reply.text
        last = reply.json()
        if predicate(last):
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"status never matched within {timeout}s; last: {last}")


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """Parse an SSE stream into (event name, decoded data); comments come as ("comment", text)."""
    name, data = "message", []
    async for line in response.aiter_lines():
        if line.startswith(":"):
            yield "comment", line[1:].strip()
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and data:
            yield name, json.loads("\n".join(data))
            name, data = "message", []


def metric_value(text: str, series: str) -> float:
    """The value of one exposition line (``name`` or ``name{labels}``)."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if key == series:
            return float(value)
    raise AssertionError(f"no series {series!r} in metrics")


def refused(reply: httpx.Response, status: int, code: str) -> str:
    """Assert ``reply`` is the JSON error ``code`` with a one-line message; return it."""
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert body["error"] == code, body
    assert body["message"] and "\n" not in body["message"]
    return str(body["message"])
