"""Serving headless (``llamadash serve``), shutting down under load, an unreachable engine."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from llamadash.api.server import ApiBindError, ApiServer, serve_headless
from llamadash.core.context import Engine
from llamadash.core.profiles import UnknownProfileError
from llamadash.core.runtime.base import EngineUnavailableError
from tests.api.conftest import sse_events, wait_status

pytestmark = pytest.mark.engine


async def test_serve_headless_switches_serves_and_stops(engine_c: Engine) -> None:
    stop = asyncio.Event()
    urls: list[str] = []
    task = asyncio.create_task(serve_headless(
        engine_c.switcher, host="127.0.0.1", port=0, token="", switch_to="Tiny",
        stop=stop, on_listening=urls.append,
    ))  # fmt: skip
    while not urls:
        assert not task.done(), task
        await asyncio.sleep(0.01)
    async with httpx.AsyncClient(base_url=urls[0], timeout=60) as http:
        status = await wait_status(http, lambda s: s["state"] == "ready")
        assert status["profile_id"] == "tiny"
    stop.set()
    await asyncio.wait_for(task, 10)
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=urls[0]) as http:
            await http.get("/healthz")


async def test_serve_headless_refuses_bad_arguments_before_anything_runs(
    engine_c: Engine,
) -> None:
    with pytest.raises(ApiBindError, match="without a token"):
        await serve_headless(engine_c.switcher, host="0.0.0.0", token="")
    with pytest.raises(UnknownProfileError):
        await serve_headless(engine_c.switcher, port=0, switch_to="nothing-like-this")
    assert engine_c.switcher.stats.switches == 0


async def test_stopping_the_api_answers_waiting_switches_and_the_switch_goes_on(
    make_api: Any, engine_c: Engine
) -> None:
    api: ApiServer = await make_api()
    async with httpx.AsyncClient(base_url=api.url, timeout=60) as http:
        waiting = asyncio.create_task(http.post("/switch", json={"model": "gemma"}))
        while not engine_c.switcher.busy:
            await asyncio.sleep(0.01)
        await api.stop()
        reply = await waiting
    assert reply.status_code == 503 and reply.json()["error"] == "shutting_down"
    # The engine is shared with the dashboard: the switch is not abandoned with the API.
    while engine_c.switcher.busy:
        await asyncio.sleep(0.05)
    assert engine_c.switcher.last_event.state.value == "ready"
    assert engine_c.switcher.last_event.profile_id == "gemma"


async def test_an_unreachable_engine_is_a_503(
    client: httpx.AsyncClient, engine_c: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable() -> Any:
        raise EngineUnavailableError("Docker engine unreachable at unix:///nowhere.sock")

    monkeypatch.setattr(engine_c.runtime, "observe", unreachable)
    engine_c.switcher.forget_observation()  # the next status looks at the (dead) engine
    for path in ("/status", "/models", "/metrics"):
        reply = await client.get(path)
        assert reply.status_code == 503, (path, reply.text)
        assert reply.json()["error"] == "engine_unavailable"
        assert "unreachable" in reply.json()["message"]
    assert (await client.get("/healthz")).status_code == 200  # llamadash itself is fine
    async with client.stream("GET", "/events") as stream:
        assert stream.status_code == 200
        name, data = await anext(sse_events(stream))
    assert name == "error" and data["error"] == "engine_unavailable"


async def test_head_requests(client: httpx.AsyncClient) -> None:
    reply = await client.head("/events")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith(
        "text/event-stream"
    )
    assert (await client.head("/status")).status_code == 200
