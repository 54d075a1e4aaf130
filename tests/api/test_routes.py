"""Every route and status code, over real HTTP, against the real engine."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import httpx
import pytest

from llamadash.api.server import ApiServer
from llamadash.core.context import Engine
from tests.api.conftest import metric_value, wait_status

pytestmark = pytest.mark.engine


def running(engine: Any, project: str) -> list[Any]:
    return engine.containers.list(filters={"label": f"com.docker.compose.project={project}"})


async def test_healthz(client: httpx.AsyncClient) -> None:
    reply = await client.get("/healthz")
    assert reply.status_code == 200
    body = reply.json()
    assert body["ok"] is True and body["busy"] is False and body["uptime"] >= 0


async def test_models_lists_every_profile(client: httpx.AsyncClient) -> None:
    reply = await client.get("/models")
    assert reply.status_code == 200
    body = reply.json()
    assert [m["id"] for m in body["models"]] == [
        "tiny",
        "gemma",
        "badflag",
        "corrupt",
        "bench-tiny",
    ]
    tiny = body["models"][0]
    assert tiny == {
        "id": "tiny",
        "name": "Tiny random llama",
        "number": "1",
        "model": "tiny.gguf",
        "speed": "fast",
        "ctx": 512,
        "bench": False,
        "current": False,
        "loading": False,
        "restart_to_apply": False,
    }
    assert body["models"][-1]["bench"] is True and body["models"][-1]["number"] == "b1"
    assert (body["current"], body["loading"], body["state"]) == (None, None, "idle")


async def test_status_when_idle(client: httpx.AsyncClient, engine_c: Engine) -> None:
    reply = await client.get("/status")
    assert reply.status_code == 200
    body = reply.json()
    assert body["state"] == "idle" and body["profile_id"] is None
    assert body["endpoint"] == engine_c.switcher.endpoint
    assert body["runtime"] == "compose" and body["args"] == [] and body["uptime"] is None


async def test_switch_then_status_models_and_metrics(
    client: httpx.AsyncClient, engine: Any, engine_c: Engine
) -> None:
    reply = await client.post("/switch", json={"model": "tiny"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["outcome"]["result"] == "ready" and body["outcome"]["profile_id"] == "tiny"
    assert body["outcome"]["restarted"] is True and body["outcome"]["seconds"] > 0
    assert body["message"].startswith("ready in")
    status = body["status"]
    assert (status["state"], status["profile_id"]) == ("ready", "tiny")
    # The args really running are the container's command line.
    container = running(engine, engine_c.settings.project_name)[0]
    assert status["args"] == container.attrs["Config"]["Cmd"]
    assert "--ctx-size" in status["args"] and "512" in status["args"]

    status = (await client.get("/status")).json()
    assert status["state"] == "ready" and status["uptime"] is not None and status["uptime"] >= 0
    assert status["since"] > 0 and status["last_error"] is None and status["managed"] is True
    models = (await client.get("/models")).json()
    assert models["current"] == "tiny" and models["state"] == "ready"
    assert [m["id"] for m in models["models"] if m["current"]] == ["tiny"]

    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = metrics.text
    assert metric_value(text, "llamadash_switches_total") == 1
    assert metric_value(text, "llamadash_switch_duration_seconds_count") == 1
    assert metric_value(text, 'llamadash_switch_duration_seconds_bucket{le="+Inf"}') == 1
    assert metric_value(text, 'llamadash_state{state="ready"}') == 1
    assert metric_value(text, 'llamadash_state{state="idle"}') == 0
    assert 'llamadash_info{profile="tiny",name="Tiny random llama",runtime="compose"} 1' in text


async def test_switching_to_what_is_ready_restarts_nothing(
    client: httpx.AsyncClient, engine: Any, engine_c: Engine
) -> None:
    assert (await client.post("/switch", json={"model": "tiny"})).status_code == 200
    before = running(engine, engine_c.settings.project_name)[0].id
    reply = await client.post("/switch", json={"model": "tiny"})
    assert reply.status_code == 200
    assert reply.json()["outcome"]["restarted"] is False
    assert reply.json()["outcome"]["message"] == "already ready"
    assert running(engine, engine_c.settings.project_name)[0].id == before
    # restart: true forces a new server.
    reply = await client.post("/switch", json={"model": "tiny", "restart": True})
    assert reply.status_code == 200 and reply.json()["outcome"]["restarted"] is True
    assert running(engine, engine_c.settings.project_name)[0].id != before


@pytest.mark.parametrize(
    ("query", "profile"), [("Gemma", "gemma"), ("2", "gemma"), ("b1", "bench-tiny")]
)
async def test_fuzzy_names_and_menu_numbers(
    client: httpx.AsyncClient, query: str, profile: str
) -> None:
    reply = await client.post("/switch", json={"model": query})
    assert reply.status_code == 200, reply.text
    assert reply.json()["outcome"]["profile_id"] == profile


async def test_unknown_model_is_a_404_with_near_matches(client: httpx.AsyncClient) -> None:
    reply = await client.post("/switch", json={"model": "iny"})
    assert reply.status_code == 404
    body = reply.json()
    assert body["error"] == "unknown_model" and body["query"] == "iny"
    assert body["suggestions"] == ["tiny", "bench-tiny"]
    assert body["valid"] == ["tiny", "gemma", "badflag", "corrupt", "bench-tiny"]
    reply = await client.post("/switch", json={"model": "zzzzzz"})
    assert reply.status_code == 404 and reply.json()["suggestions"] == []
    assert (await client.get("/status")).json()["state"] == "idle"  # nothing was touched


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "empty"),
        (b"{oops", "not valid JSON"),
        (b'["tiny"]', "JSON object"),
        (b"{}", "missing field 'model'"),
        (b'{"model": 42}', "'model' must be a string"),
        (b'{"model": "tiny", "wait": "yes"}', "'wait' must be true or false"),
        (b'{"model": "tiny", "restart": 1}', "'restart' must be true or false"),
        (b'{"model": "tiny", "timeout": -5}', "'timeout' must be more than 0"),
        (b'{"model": "tiny", "mdoel": "x"}', "unknown field(s) 'mdoel'"),
    ],
)
async def test_malformed_bodies_are_400s(
    client: httpx.AsyncClient, engine_c: Engine, content: bytes, needle: str
) -> None:
    reply = await client.post("/switch", content=content)
    assert reply.status_code == 400, reply.text
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["error"] == "bad_request" and needle in reply.json()["message"]
    assert engine_c.switcher.stats.switches == 0 and not engine_c.switcher.busy


async def test_bad_query_timeout_and_oversized_bodies(client: httpx.AsyncClient) -> None:
    reply = await client.post("/switch?timeout=soon", json={"model": "tiny"})
    assert reply.status_code == 400 and "query parameter 'timeout'" in reply.json()["message"]
    reply = await client.post("/switch", content=b'{"model": "' + b"x" * 20_000 + b'"}')
    assert reply.status_code == 413 and reply.json()["error"] == "body_too_large"
    reply = await client.post("/stop", json={"wait": "no"})
    assert reply.status_code == 400 and "'wait'" in reply.json()["message"]


async def test_unknown_paths_and_methods_are_json(client: httpx.AsyncClient) -> None:
    reply = await client.get("/nope")
    assert reply.status_code == 404 and reply.json()["error"] == "not_found"
    reply = await client.get("/switch")
    assert reply.status_code == 405 and reply.json()["error"] == "method_not_allowed"
    assert reply.headers["allow"] == "POST"
    reply = await client.post("/status")
    assert reply.status_code == 405


async def test_a_failed_switch_is_a_502_with_reason_and_log_tail(
    client: httpx.AsyncClient,
) -> None:
    reply = await client.post("/switch", json={"model": "corrupt"})
    assert reply.status_code == 502, reply.text
    body = reply.json()
    assert body["error"] == "switch_failed" and body["outcome"]["result"] == "failed"
    assert "exited with code 1" in body["message"]
    assert body["log_tail"] and any("gguf" in line.lower() for line in body["log_tail"])
    assert body["status"]["state"] == "failed" and body["status"]["last_error"]
    metrics = (await client.get("/metrics")).text
    assert metric_value(metrics, "llamadash_switch_failures_total") == 1
    assert metric_value(metrics, 'llamadash_state{state="failed"}') == 1


async def test_a_refused_profile_is_a_502_and_the_server_is_untouched(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.post("/switch", json={"model": "tiny"})).status_code == 200
    reply = await client.post("/switch", json={"model": "badflag"})
    assert reply.status_code == 502
    assert "--ctx-sise" in reply.json()["message"] and reply.json()["log_tail"] == []


async def test_timeout_is_a_504_and_the_switch_goes_on(client: httpx.AsyncClient) -> None:
    reply = await client.post("/switch", json={"model": "gemma", "timeout": 0.05})
    assert reply.status_code == 504, reply.text
    body = reply.json()
    assert body["error"] == "timeout" and body["timeout"] == 0.05
    assert body["status"]["state"] != "ready"  # idle while the profile is checked, then busy
    status = await wait_status(client, lambda s: s["state"] == "ready")
    assert status["profile_id"] == "gemma"
    # The same through the query string.
    reply = await client.post("/switch?timeout=0.01", json={"model": "tiny"})
    assert reply.status_code == 504 and reply.json()["timeout"] == 0.01
    # (While tiny is checked, before gemma is stopped, /status still says "ready gemma".)
    await wait_status(client, lambda s: s["state"] == "ready" and s["profile_id"] == "tiny")


async def test_default_timeout_comes_from_the_config(make_api: Any, engine_c: Engine) -> None:
    engine_c.switcher.settings = dataclasses.replace(engine_c.settings, switch_timeout=0.05)
    api: ApiServer = await make_api()
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
        reply = await http.post("/switch", json={"model": "tiny"})
        assert reply.status_code == 504 and reply.json()["timeout"] == 0.05
        await wait_status(http, lambda s: s["state"] == "ready")


async def test_wait_false_is_a_202_with_location(client: httpx.AsyncClient) -> None:
    reply = await client.post("/switch", json={"model": "tiny", "wait": False})
    assert reply.status_code == 202, reply.text
    assert reply.headers["location"] == "/status"
    assert "status" in reply.json() and reply.json()["message"].startswith("switching to tiny")
    status = await wait_status(client, lambda s: s["state"] == "ready")
    assert status["profile_id"] == "tiny"


async def test_a_superseded_request_is_a_409(client: httpx.AsyncClient) -> None:
    assert (await client.post("/switch", json={"model": "tiny"})).status_code == 200
    # Restart tiny (runs now), queue gemma behind it, then ask for bench-tiny: gemma is replaced.
    first = await client.post("/switch", json={"model": "tiny", "restart": True, "wait": False})
    assert first.status_code == 202
    queued = asyncio.create_task(client.post("/switch", json={"model": "gemma"}))
    await wait_status(client, lambda s: s["queued"] == "gemma", timeout=30)
    third = await client.post("/switch", json={"model": "bench-tiny", "wait": False})
    assert third.status_code == 202
    reply = await queued
    assert reply.status_code == 409, reply.text
    body = reply.json()
    assert body["error"] == "superseded" and body["superseded_by"] == "bench-tiny"
    assert body["outcome"]["result"] == "superseded" and body["outcome"]["profile_id"] == "gemma"
    # (While bench-tiny is checked, before tiny is stopped, /status still says "ready tiny".)
    await wait_status(client, lambda s: s["state"] == "ready" and s["profile_id"] == "bench-tiny")
    metrics = (await client.get("/metrics")).text
    assert metric_value(metrics, "llamadash_switches_superseded_total") == 1


async def test_the_switch_survives_a_client_that_disconnects(
    api: ApiServer, client: httpx.AsyncClient
) -> None:
    async with httpx.AsyncClient(base_url=api.url, timeout=120) as impatient:
        call = asyncio.create_task(impatient.post("/switch", json={"model": "gemma"}))
        await wait_status(client, lambda s: s["state"] in ("starting", "loading"), timeout=30)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    status = await wait_status(client, lambda s: s["state"] == "ready")
    assert status["profile_id"] == "gemma"


async def test_stop(client: httpx.AsyncClient, engine: Any, engine_c: Engine) -> None:
    reply = await client.post("/stop")
    assert reply.status_code == 200 and reply.json()["outcome"]["result"] == "stopped"
    assert reply.json()["outcome"]["message"] == "already stopped"
    assert (await client.post("/switch", json={"model": "tiny"})).status_code == 200
    reply = await client.post("/stop", json={})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["outcome"]["result"] == "stopped" and body["status"]["state"] == "idle"
    assert running(engine, engine_c.settings.project_name) == []
    assert (await client.post("/switch", json={"model": "tiny"})).status_code == 200
    reply = await client.post("/stop", json={"wait": False})
    assert reply.status_code == 202 and reply.headers["location"] == "/status"
    await wait_status(client, lambda s: s["state"] == "idle")
    assert running(engine, engine_c.settings.project_name) == []


async def test_openapi_is_served(client: httpx.AsyncClient) -> None:
    from llamadash.api.openapi import document

    reply = await client.get("/openapi.json")
    assert reply.status_code == 200 and reply.json() == document()


async def test_status_body_is_reused_only_while_nothing_changed(
    client: httpx.AsyncClient, engine_c: Engine
) -> None:
    first = await client.get("/status")
    again = await client.get("/status")
    assert first.json()["state"] == "idle"
    assert again.content == first.content  # rendered once, within 50 ms, nothing changed
    accepted = await client.post("/switch", json={"model": "tiny", "wait": False})
    assert accepted.status_code == 202
    # At once (well within the 50 ms reuse window): the queued switch shows, not the old body.
    now = (await client.get("/status")).json()
    assert now["switching_to"] == "tiny" or now["state"] != "idle", now
    done = await client.post("/switch", json={"model": "tiny"})
    assert done.status_code == 200
    assert (await client.get("/status")).json()["state"] == "ready"
