"""What a hostile web page sends is refused over real HTTP; curl and scripts keep working.

Each request carries the headers a browser adds (Origin, Sec-Fetch-Site, Host of a rebound
name, a form or text/plain body), sent by hand against the real app on loopback.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from llamadash.api.app import create_app
from llamadash.api.server import ApiServer
from llamadash.core.context import Engine
from tests.api.conftest import refused, sse_events

pytestmark = pytest.mark.engine

EVIL = "http://evil.example"
TOKEN = "t0p-s3cret"
READS = ("/healthz", "/models", "/status", "/metrics", "/openapi.json", "/events", "/instances")


def running(engine: Any, project: str) -> list[Any]:
    return engine.containers.list(filters={"label": f"com.docker.compose.project={project}"})


def browser_attempts(api: ApiServer) -> list[tuple[dict[str, str], bytes, str]]:
    """(headers, body, error code) of POSTs a web page can send without a CORS preflight."""
    own = api.url  # http://127.0.0.1:<port>, what httpx sends as Host
    form = "application/x-www-form-urlencoded"
    return [
        ({"Origin": EVIL}, b"", "cross_site"),  # fetch(url, {method: "POST", mode: "no-cors"})
        ({"Origin": "null"}, b"", "cross_site"),  # a sandboxed frame or a file: page
        ({"Origin": f"http://127.0.0.1:{api.port + 1}"}, b"", "cross_site"),  # a local web app
        ({"Origin": f"http://localhost:{api.port}"}, b"", "cross_site"),  # same port, other host
        ({"Sec-Fetch-Site": "cross-site"}, b"", "cross_site"),  # a browser that sent no Origin
        ({"Sec-Fetch-Site": "same-site"}, b"", "cross_site"),
        ({"Origin": EVIL, "Content-Type": "text/plain"}, b'{"wait": true}', "cross_site"),
        ({"Origin": own, "Content-Type": "text/plain;charset=UTF-8"}, b"{}", "not_json"),
        ({"Sec-Fetch-Site": "same-origin", "Content-Type": form}, b'{"wait": true}', "not_json"),
        ({"Sec-Fetch-Mode": "navigate", "Content-Type": "multipart/form-data"}, b"--", "not_json"),
        ({"Origin": own}, b'{"wait": true}', "not_json"),  # a body that names no type at all
    ]


async def test_cross_site_and_form_stops_are_refused_and_the_server_keeps_running(
    api: ApiServer, client: httpx.AsyncClient, engine: Any, engine_c: Engine
) -> None:
    assert (await client.post("/switch", json={"model": "tiny"})).status_code == 200
    project = engine_c.settings.project_name
    for headers, body, code in browser_attempts(api):
        message = refused(await client.post("/stop", headers=headers, content=body), 403, code)
        assert ("application/json" in message) == (code == "not_json"), message
    status = (await client.get("/status")).json()
    assert status["state"] == "ready" and status["profile_id"] == "tiny", status
    assert len(running(engine, project)) == 1
    # curl -d sends a form type, and no browser headers: it still stops the server.
    reply = await client.post(
        "/stop",
        content=b'{"wait": true}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status_code == 200 and reply.json()["outcome"]["result"] == "stopped"
    assert running(engine, project) == []


async def test_cross_site_switches_are_refused_before_anything_runs(
    api: ApiServer, client: httpx.AsyncClient, engine_c: Engine
) -> None:
    body = b'{"model": "tiny", "wait": false}'
    for headers, _, code in browser_attempts(api):
        text = {"Content-Type": "text/plain", **headers}
        refused(await client.post("/switch", headers=text, content=body), 403, code)
    status = (await client.get("/status")).json()
    assert status["state"] == "idle" and status["switching_to"] is None, status
    assert engine_c.switcher.stats.switches == 0 and not engine_c.switcher.busy
    # The API's own origin with a JSON body reaches the route (404: no such model).
    own = {"Origin": api.url, "Sec-Fetch-Site": "same-origin"}
    reply = await client.post("/switch", headers=own, json={"model": "zzz-none"})
    assert reply.status_code == 404 and reply.json()["error"] == "unknown_model"
    # So does curl's form-typed -d body without browser headers.
    reply = await client.post(
        "/switch",
        content=b'{"model": "zzz-none"}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status_code == 404 and reply.json()["error"] == "unknown_model"


async def test_cross_site_starts_and_deletes_of_instances_are_refused(
    api: ApiServer, client: httpx.AsyncClient, engine: Any, engine_c: Engine
) -> None:
    assert (await client.post("/switch", json={"model": "tiny"})).status_code == 200
    switches = engine_c.switcher.stats.switches
    body = b'{"model": "gemma", "wait": false}'
    for headers, sent, code in browser_attempts(api):
        text = {"Content-Type": "text/plain", **headers}
        refused(await client.post("/instances", headers=text, content=body), 403, code)
        for path in ("/instances/tiny", "/instances"):
            reply = await client.request("DELETE", path, headers=headers, content=sent)
            refused(reply, 403, code)
    listed = (await client.get("/instances")).json()["instances"]
    assert [(i["id"], i["state"]) for i in listed] == [("tiny", "ready")]
    assert engine_c.switcher.stats.switches == switches and not engine_c.switcher.busy
    assert len(running(engine, engine_c.settings.project_name)) == 1
    # Without browser headers (curl, scripts) the same DELETE stops it.
    reply = await client.delete("/instances/tiny")
    assert reply.status_code == 200 and reply.json()["outcome"]["result"] == "stopped"
    assert running(engine, engine_c.settings.project_name) == []


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example:{port}", "[::2]"]
)
async def test_a_foreign_host_is_421_on_every_read(
    api: ApiServer, client: httpx.AsyncClient, host: str
) -> None:
    sent = host.format(port=api.port)
    for path in READS:
        # A stream, so a served /events shows its 200 instead of hanging the test.
        async with client.stream("GET", path, headers={"Host": sent}) as reply:
            await reply.aread()
            message = refused(reply, 421, "foreign_host")
        assert repr(sent) in message and "DNS-rebinding" in message, message


@pytest.mark.parametrize(
    "host", ["localhost:{port}", "127.0.0.1:{port}", "[::1]:{port}", "LocalHost", "[::1]"]
)
async def test_loopback_host_names_are_answered(
    api: ApiServer, client: httpx.AsyncClient, host: str
) -> None:
    headers = {"Host": host.format(port=api.port)}
    assert (await client.get("/status", headers=headers)).status_code == 200
    async with client.stream("GET", "/events", headers=headers) as reply:
        assert reply.status_code == 200
        async for name, data in sse_events(reply):
            assert name == "status" and data["state"] == "idle"
            break


async def test_with_a_token_a_loopback_bind_still_refuses_foreign_hosts(make_api: Any) -> None:
    api: ApiServer = await make_api(token=TOKEN)
    good = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
        reply = await http.get("/status", headers={**good, "Host": "evil.example"})
        refused(reply, 421, "foreign_host")
        reply = await http.post("/stop", headers={**good, "Origin": EVIL})
        refused(reply, 403, "cross_site")
        assert (await http.get("/status", headers=good)).status_code == 200


async def test_bound_off_loopback_with_a_token_any_host_is_answered(engine_c: Engine) -> None:
    # The app as a 0.0.0.0 listener would build it, driven in-process: tests bind only loopback.
    await engine_c.switcher.adopt()
    app = create_app(engine_c.switcher, token=TOKEN, host="0.0.0.0")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://llm-box.lan:8081") as http:
        reply = await http.get("/status", headers={"Authorization": f"Bearer {TOKEN}"})
        assert reply.status_code == 200 and reply.json()["state"] == "idle"
        refused(await http.get("/status"), 401, "unauthorized")  # the token protects it
        reply = await http.post(
            "/stop", headers={"Authorization": f"Bearer {TOKEN}", "Origin": EVIL}
        )
        refused(reply, 403, "cross_site")
