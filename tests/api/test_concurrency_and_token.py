"""Ten concurrent switches answered coherently; the bearer-token rule over real HTTP."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import httpx
import pytest

from llamadash.api.server import ApiBindError, ApiServer
from llamadash.core.context import Engine
from tests.api.conftest import metric_value

pytestmark = pytest.mark.engine


async def test_ten_concurrent_switches_to_two_profiles_are_answered_coherently(
    client: httpx.AsyncClient, engine: Any, engine_c: Engine
) -> None:
    targets = ["tiny" if i % 2 else "gemma" for i in range(10)]

    async def ask(target: str) -> tuple[str, httpx.Response]:
        return target, await client.post("/switch", json={"model": target})

    replies = await asyncio.gather(*(ask(t) for t in targets))
    ready: list[dict[str, Any]] = []
    for target, reply in replies:
        body = reply.json()
        outcome = body["outcome"]
        assert outcome["profile_id"] == target, body
        if reply.status_code == 200:
            assert outcome["result"] == "ready"
            ready.append(outcome)
        else:
            assert reply.status_code == 409, body
            assert outcome["result"] == "superseded" and body["error"] == "superseded"
            assert body["superseded_by"] in ("tiny", "gemma")
            assert body["superseded_by"] != target
    assert ready, "at least one request must end ready"
    # Whatever ran last is what runs now: one server, ready, with a profile someone got 200 for.
    status = (await client.get("/status")).json()
    assert status["state"] == "ready" and status["queued"] is None
    assert status["profile_id"] in {o["profile_id"] for o in ready}
    label = f"com.docker.compose.project={engine_c.settings.project_name}"
    assert len(engine.containers.list(filters={"label": label})) == 1
    # Each real switch answered all the requests that joined it: far fewer switches than calls.
    metrics = (await client.get("/metrics")).text
    switches = metric_value(metrics, "llamadash_switches_total")
    superseded = metric_value(metrics, "llamadash_switches_superseded_total")
    assert 1 <= switches <= len(ready)
    assert superseded <= sum(1 for _, r in replies if r.status_code == 409)
    assert metric_value(metrics, "llamadash_switch_failures_total") == 0


TOKEN = "t0p-s3cret"


async def test_with_a_token_every_route_but_healthz_needs_it(make_api: Any) -> None:
    api: ApiServer = await make_api(token=TOKEN)
    routes = [
        ("GET", "/models"),
        ("GET", "/status"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/events"),
        ("POST", "/switch"),
        ("POST", "/stop"),
        ("GET", "/nope"),
    ]
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
        assert (await http.get("/healthz")).status_code == 200
        for method, path in routes:
            for headers in (
                {},
                {"Authorization": "Bearer wrong"},
                {"Authorization": TOKEN},
                {"Authorization": f"Basic {TOKEN}"},
            ):
                reply = await http.request(method, path, headers=headers, json={"model": "tiny"})
                assert reply.status_code == 401, (method, path, headers)
                assert reply.json()["error"] == "unauthorized"
                assert reply.headers["www-authenticate"].startswith("Bearer")
        good = {"Authorization": f"Bearer {TOKEN}"}
        assert (await http.get("/status", headers=good)).status_code == 200
        assert (await http.get("/models", headers=good)).status_code == 200
        assert (await http.get("/nope", headers=good)).status_code == 404
        reply = await http.post("/switch", headers=good, json={"model": "zzz"})
        assert reply.status_code == 404
        async with http.stream("GET", "/events", headers=good) as stream:
            assert stream.status_code == 200


async def test_the_token_comes_from_the_config(make_engine: Any) -> None:
    engine = make_engine(api_token=TOKEN, api_port=0)
    api = ApiServer(engine.switcher)
    try:
        await api.start()
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
            assert (await http.get("/status")).status_code == 401
            reply = await http.get("/status", headers={"Authorization": f"Bearer {TOKEN}"})
            assert reply.status_code == 200
    finally:
        await api.stop()
        await engine.switcher.aclose()


async def test_no_token_off_loopback_refuses_to_start(make_engine: Any) -> None:
    engine = make_engine(api_host="0.0.0.0")
    try:
        with pytest.raises(ApiBindError, match="without a token"):
            ApiServer(engine.switcher)
        with pytest.raises(ApiBindError, match="without a token"):
            ApiServer(engine.switcher, host="::", token="")
        ApiServer(engine.switcher, token=TOKEN)  # allowed (not started: loopback traffic only)
    finally:
        await engine.switcher.aclose()


async def test_a_busy_port_is_a_clear_error(api: ApiServer, engine_c: Engine) -> None:
    other = ApiServer(engine_c.switcher, host="127.0.0.1", port=api.port)
    with pytest.raises(ApiBindError, match=re.escape(f"cannot listen on 127.0.0.1:{api.port}")):
        await other.start()
    assert not other.running
    async with httpx.AsyncClient(base_url=api.url) as http:  # the first one is unharmed
        assert (await http.get("/healthz")).status_code == 200


async def test_start_stop_start(engine_c: Engine) -> None:
    api = ApiServer(engine_c.switcher, port=0)
    for _ in range(2):
        await api.start()
        async with httpx.AsyncClient(base_url=api.url) as http:
            assert (await http.get("/healthz")).status_code == 200
        await api.stop()
        assert not api.running
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=api.url) as http:
            await http.get("/healthz")


async def test_idle_server_stops_at_once_and_keeps_the_date_header_fresh(engine_c: Engine) -> None:
    # Regression for the 1 s housekeeping tick (uvicorn polls at 10 Hz): stop() wakes it.
    api = ApiServer(engine_c.switcher, port=0)
    await api.start()
    async with httpx.AsyncClient(base_url=api.url) as http:
        first = (await http.get("/healthz")).headers["date"]
        await asyncio.sleep(2.1)
        later = (await http.get("/healthz")).headers["date"]
    assert later != first  # refreshed each tick (second resolution)
    began = time.monotonic()
    await api.stop()
    assert time.monotonic() - began < 0.5
    assert not api.running
