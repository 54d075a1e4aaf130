"""The pool's routes over real HTTP: /instances start, list, refuse and stop real llama-servers.

Each test runs a real ApiServer over a pool engine (tests/e2e/test_pool.py's ``pool_engine``:
max_instances = 2, both runtimes where the runtime matters).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from llamadash.api.server import ApiServer
from llamadash.core.context import Engine
from tests.api.conftest import metric_value, refused, sse_events
from tests.e2e.test_pool import model_of, pool_engine  # noqa: F401

pytestmark = pytest.mark.engine
Serve = Callable[[Engine], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Serve the API over an engine's pool (the fixture stops the engine's servers after)."""
    servers: list[tuple[ApiServer, httpx.AsyncClient]] = []

    async def start(engine: Engine) -> httpx.AsyncClient:
        await engine.pool.adopt()
        api = ApiServer(
            engine.switcher, pool=engine.pool, idle=engine.idle, host="127.0.0.1", port=0
        )
        await api.start()
        client = httpx.AsyncClient(base_url=api.url, timeout=120)
        servers.append((api, client))
        return client

    yield start
    for api, client in servers:
        await client.aclose()
        await api.stop()


async def test_start_alongside_list_status_metrics_and_stop(
    pool_engine: Callable[..., Engine],  # noqa: F811
    serve: Serve,
) -> None:
    engine = pool_engine()
    http = await serve(engine)
    assert (await http.post("/switch", json={"model": "tiny"})).status_code == 200
    reply = await http.post("/instances", json={"model": "Gemma 3"})  # the CLI's matching
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["outcome"]["result"] == "ready" and body["outcome"]["restarted"] is True
    started = body["instance"]
    assert started["id"] == "gemma" and not started["foreground"]
    assert started["port"] in engine.settings.ports and started["state"] == "ready"
    assert model_of(started["endpoint"]) == "gemma"
    assert [i["id"] for i in body["status"]["instances"]] == ["tiny", "gemma"]
    again = await http.post("/instances", json={"model": "gemma", "exact": True})
    assert again.status_code == 200 and again.json()["outcome"]["restarted"] is False

    listed = (await http.get("/instances")).json()["instances"]
    assert [(i["id"], i["state"], i["foreground"]) for i in listed] == [
        ("tiny", "ready", True),
        ("gemma", "ready", False),
    ]
    assert all(i["health_ms"] is not None and i["build"] for i in listed), listed
    assert all(i["memory"] and i["log_path"] for i in listed), listed
    status = (await http.get("/status")).json()
    assert (status["state"], status["profile_id"]) == ("ready", "tiny")  # the foreground's
    assert [i["id"] for i in status["instances"]] == ["tiny", "gemma"]
    metrics = (await http.get("/metrics")).text
    assert metric_value(metrics, 'llamadash_instances{state="ready"}') == 2

    stopped = await http.delete("/instances/gemma")
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["outcome"] == {**stopped.json()["outcome"], "result": "stopped"}
    assert [i["id"] for i in stopped.json()["status"]["instances"]] == ["tiny"]
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{started['endpoint']}/health", timeout=1)
    message = refused(await http.delete("/instances/gemma"), 404, "not_running")
    assert message == "no instance runs 'gemma'; running: tiny"
    unknown = await http.post("/instances", json={"model": "gema"})
    refused(unknown, 404, "unknown_model")
    assert "gemma" in unknown.json()["suggestions"]

    assert (await http.post("/instances", json={"model": "tiny2"})).status_code == 200
    every = await http.delete("/instances")
    assert every.status_code == 200, every.text
    assert every.json()["outcome"]["result"] == "stopped"
    assert {o["profile_id"] for o in every.json()["outcomes"]} == {"tiny", "tiny2"}
    assert (await http.get("/instances")).json() == {"instances": [], "hosts": []}


async def test_a_low_memory_budget_is_a_409_and_nothing_stops(
    pool_engine: Callable[..., Engine],  # noqa: F811
    serve: Serve,
) -> None:
    engine = pool_engine(memory_budget="40MiB", tiny2_extra="pin = true")
    http = await serve(engine)
    assert (await http.post("/instances", json={"model": "tiny2"})).status_code == 200
    for wait in (True, False):  # a refusal comes before the load: wait=false sees it too
        reply = await http.post("/instances", json={"model": "gemma", "wait": wait})
        message = refused(reply, 409, "admission_refused")
        assert "cannot start gemma: needs ~" in message and "tiny2 (pinned" in message
    # Replacing the foreground instance is admitted too (max_instances > 1): refused alike.
    message = refused(await http.post("/switch", json={"model": "gemma"}), 409, "admission_refused")
    assert "cannot start gemma" in message
    listed = (await http.get("/instances")).json()["instances"]
    assert [(i["id"], i["state"]) for i in listed] == [("tiny2", "ready")]


@pytest.mark.parametrize("pool_engine", ["process"], indirect=True)
async def test_a_full_pinned_pool_is_a_409(
    pool_engine: Callable[..., Engine],  # noqa: F811
    serve: Serve,
) -> None:
    engine = pool_engine(tiny2_extra="pin = true", long_extra="pin = true")
    http = await serve(engine)
    assert (await http.post("/instances", json={"model": "tiny2"})).status_code == 200
    assert (await http.post("/instances", json={"model": "long"})).status_code == 200
    reply = await http.post("/instances", json={"model": "tiny3"})
    message = refused(reply, 409, "admission_refused")
    assert "max_instances = 2" in message and "tiny2 (pinned" in message
    assert reply.json()["status"]["profile_id"] == "tiny2"
    listed = (await http.get("/instances")).json()["instances"]
    assert [i["id"] for i in listed] == ["tiny2", "long"]


@pytest.mark.parametrize("pool_engine", ["process"], indirect=True)
async def test_events_name_every_instance(
    pool_engine: Callable[..., Engine],  # noqa: F811
    serve: Serve,
) -> None:
    engine = pool_engine()
    http = await serve(engine)
    assert (await http.post("/switch", json={"model": "tiny"})).status_code == 200
    seen: list[dict[str, Any]] = []

    async def read() -> None:
        async with http.stream("GET", "/events") as stream:
            async for name, data in sse_events(stream):
                if name == "status":
                    assert [i["id"] for i in data["instances"]] == ["tiny"]
                elif name == "state":
                    seen.append(data)
                    if (data["instance"], data["state"]) == ("tiny", "idle"):
                        return

    reader = asyncio.create_task(read())
    while not await _streaming(http):
        await asyncio.sleep(0.02)
    assert (await http.post("/instances", json={"model": "tiny2"})).status_code == 200
    assert (await http.delete("/instances/tiny")).status_code == 200
    await asyncio.wait_for(reader, 30)
    beside = [(e["state"], e["foreground"]) for e in seen if e["instance"] == "tiny2"]
    assert ("ready", False) in beside, seen
    front = [(e["state"], e["foreground"]) for e in seen if e["instance"] == "tiny"]
    assert front[-1] == ("idle", True), seen


async def _streaming(http: httpx.AsyncClient) -> bool:
    """Whether an event stream is open (its subscription made)."""
    return metric_value((await http.get("/metrics")).text, "llamadash_api_event_clients") >= 1
