"""GET /events: the whole sequence of a switch, keepalives, and clean-up on disconnect."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from llamadash.api.server import ApiServer
from llamadash.core.context import Engine
from tests.api.conftest import metric_value, sse_events

pytestmark = pytest.mark.engine


async def collect_until(response: httpx.Response, done: Any, into: list[tuple[str, Any]]) -> None:
    async for name, data in sse_events(response):
        into.append((name, data))
        if done(name, data):
            return


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_the_stream_shows_the_whole_sequence_of_a_switch(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.post("/switch", json={"model": "tiny"})).status_code == 200
    events: list[tuple[str, Any]] = []
    async with client.stream("GET", "/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        reader = asyncio.create_task(
            collect_until(
                response, lambda n, d: n == "state" and d["state"] in ("ready", "failed"), events
            )
        )
        await wait_for(lambda: events)  # the first event is there before we switch
        reply = await client.post("/switch", json={"model": "gemma"})
        assert reply.status_code == 200
        await asyncio.wait_for(reader, 30)
    first_name, first = events[0]
    assert first_name == "status" and "endpoint" in first
    assert (first["state"], first["profile_id"]) == ("ready", "tiny")
    states = [d["state"] for n, d in events if n == "state"]
    # stopping → starting → loading (one or more progress updates) → ready, in that order.
    collapsed = [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]]
    assert collapsed == ["stopping", "starting", "loading", "ready"], states
    loading = [d for n, d in events if n == "state" and d["state"] == "loading"]
    assert all(d["progress"] is not None for d in loading)
    assert {"stage", "pct", "elapsed", "eta"} <= set(loading[0]["progress"])
    ready = events[-1][1]
    assert ready["profile_id"] == "gemma" and ready["message"].startswith("ready in")
    stamps = [d["at"] for n, d in events if n == "state"]
    assert stamps == sorted(stamps)


async def test_a_failure_is_streamed_with_its_reason_and_log_tail(
    client: httpx.AsyncClient,
) -> None:
    events: list[tuple[str, Any]] = []
    async with client.stream("GET", "/events") as response:
        reader = asyncio.create_task(
            collect_until(response, lambda n, d: n == "state" and d["state"] == "failed", events)
        )
        await wait_for(lambda: events)
        assert (await client.post("/switch", json={"model": "corrupt"})).status_code == 502
        await asyncio.wait_for(reader, 30)
    failed = events[-1][1]
    assert failed["error"] and "exited with code 1" in failed["error"]
    assert failed["exit_code"] == 1 and failed["log_tail"]


async def test_keepalive_comments(client: httpx.AsyncClient) -> None:
    seen: list[tuple[str, Any]] = []
    async with client.stream("GET", "/events") as response:
        await asyncio.wait_for(
            collect_until(response, lambda n, d: n == "comment", seen), timeout=5
        )
    assert seen[0][0] == "status" and seen[-1] == ("comment", "keepalive")


async def test_the_subscriber_is_removed_when_the_client_disconnects(
    api: ApiServer, client: httpx.AsyncClient, engine_c: Engine
) -> None:
    listeners = engine_c.pool._listeners  # private: the only way to see the subscription
    baseline = len(listeners)
    streams = [httpx.AsyncClient(base_url=api.url, timeout=30) for _ in range(3)]
    responses = []
    for http in streams:
        response = await http.send(http.build_request("GET", "/events"), stream=True)
        responses.append(response)
    await wait_for(lambda: len(listeners) == baseline + 3)
    metrics = (await client.get("/metrics")).text
    assert metric_value(metrics, "llamadash_api_event_clients") == 3
    for response, http in zip(responses, streams, strict=True):
        await response.aclose()
        await http.aclose()
    await wait_for(lambda: len(listeners) == baseline, timeout=5)
    assert api.context.event_clients == 0
    metrics = (await client.get("/metrics")).text
    assert metric_value(metrics, "llamadash_api_event_clients") == 0


async def test_stopping_the_server_ends_open_streams(make_api: Any, engine_c: Engine) -> None:
    api: ApiServer = await make_api()  # default 15 s keepalive: the stream is idle
    lines: list[tuple[str, Any]] = []
    async with (
        httpx.AsyncClient(base_url=api.url, timeout=30) as http,
        http.stream("GET", "/events") as response,
    ):
        reader = asyncio.create_task(collect_until(response, lambda n, d: False, lines))
        await wait_for(lambda: lines)
        began = time.monotonic()
        await api.stop()
        await asyncio.wait_for(reader, 5)  # the stream ended cleanly
        assert time.monotonic() - began < 2.0
    assert api.context.event_clients == 0
    assert not api.running
