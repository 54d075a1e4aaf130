"""Two Docker engines on this machine as two hosts: the test bed's and a second private one.

Real engines, the real llama-server image on both, the tiny GGUF; the API and its /v1 proxy
in front. The test stopping the second engine runs last (the module's engine is not restarted).
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from llamadash.api.dashboard import DashboardFeed
from llamadash.api.server import ApiServer
from llamadash.collectors.bundle import collectors_for
from llamadash.core.context import Engine, build_engine
from llamadash.remote.client import OwnerApi
from llamadash.remote.shapes import DashboardSample
from llamadash.ui.app import build_app
from llamadash.ui.widgets.instances import InstancesPane
from tests.conftest import REPO, TEST_IMAGE, missing
from tests.support.second_engine import SecondEngine, copy_image

pytestmark = pytest.mark.engine
DEADLINE = 60.0

CONF = """\
[llamadash]
models_dir = {models}
runtime = compose
port = {local_port}
project_name = {project}
project_dir = {project_dir}
compose_files = {files}
image = {image}
state_dir = {state}
stop_grace = 3

[host two]
docker_host = {second}
port = {two_port}
port_range = {two_low}-{two_high}

[near]
model = tiny.gguf
ctx = 256
threads = 1

[far]
model = tiny.gguf
ctx = 256
threads = 1
host = two
"""


@pytest.fixture(scope="module")
def second(engine: Any, llama_image: str) -> Iterator[tuple[SecondEngine, Any]]:
    """The second dockerd with the llama-server image; removed at the end, failed or not."""
    made = SecondEngine()
    client = None
    with ExitStack() as cleanup:
        cleanup.callback(lambda: made.close(client))
        try:
            client = made.start()
        except RuntimeError as exc:
            missing(f"a second Docker engine ({exc})", "apt-get install docker.io; run as root")
        copy_image(engine, client, llama_image)
        yield made, client


def free_ports(count: int) -> list[int]:
    """``count`` TCP ports free on 127.0.0.1 now (held together, so all distinct)."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


def profiles_on(client: Any, project: str = "") -> list[str]:
    """The profiles of the running containers of projects ``project*`` on ``client``'s engine."""
    return sorted(
        c.labels.get("io.llamadash.profile", "")
        for c in client.containers.list()
        if c.labels.get("com.docker.compose.project", "").startswith(project)
    )


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll ``check`` until it holds, failing with ``what`` after DEADLINE."""
    deadline = time.monotonic() + DEADLINE
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {DEADLINE:g} s: {what}")
        await asyncio.sleep(0.1)


@dataclass
class Served:
    """The engine over both hosts, its API (with the /v1 proxy) and a client on it."""

    engine: Engine
    api: ApiServer
    http: httpx.AsyncClient
    conf: Path

    async def chat(self, model: str) -> httpx.Response:
        """One short completion naming ``model``, through the proxy."""
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
        return await self.http.post("/v1/chat/completions", json=body)


def hosts_conf(folder: Path, models: Path, second: SecondEngine) -> tuple[Path, str]:
    """models.conf with the test bed as ``local`` and the second engine as host ``two``."""
    local_port, two_port, two_low = free_ports(3)
    project = f"ldtest-{uuid.uuid4().hex[:8]}"
    conf = folder / "models.conf"
    conf.write_text(
        CONF.format(
            models=models,
            local_port=local_port,
            project=project,
            project_dir=folder,
            files=f"{REPO / 'compose.yaml'},{REPO / 'compose.cpu.yaml'}",
            image=TEST_IMAGE,
            state=folder / "state",
            second=second.url,
            two_port=two_port,
            two_low=two_low,
            two_high=two_low,  # one port beside its foreground: enough here
        )
    )
    return conf, project


@pytest.fixture
async def served(
    second: tuple[SecondEngine, Any], engine: Any, all_models: Path, tmp_path: Path
) -> AsyncIterator[Served]:
    """The engine and API over the test bed as ``local`` and the second engine as ``two``."""
    conf, project = hosts_conf(tmp_path, all_models, second[0])
    built = build_engine(conf)
    api = ApiServer(
        built.switcher,
        pool=built.pool,
        idle=built.idle,
        router=built.router,
        port=0,
        token="",
        dashboards=DashboardFeed(lambda: collectors_for(built)),
    )
    await api.start()
    built.watch.start(interval=0.1)
    http = httpx.AsyncClient(base_url=api.url, timeout=DEADLINE)
    try:
        yield Served(built, api, http, conf)
    finally:
        await http.aclose()
        await built.watch.aclose()
        await built.router.aclose()
        await api.stop()
        await asyncio.wait_for(built.pool.stop(), DEADLINE)
        await built.pool.aclose()
        for container in engine.containers.list(all=True):
            if container.labels.get("com.docker.compose.project", "").startswith(project):
                container.remove(force=True)


async def test_each_model_is_served_from_its_own_host(
    served: Served, engine: Any, second: tuple[SecondEngine, Any]
) -> None:
    """The proxy loads near on the test bed engine and far on the second, and says so."""
    for model in ("near", "far"):
        answer = await served.chat(model)
        assert answer.status_code == 200, answer.text
        assert answer.json()["model"] == model  # llama-server's alias: the profile id
    assert profiles_on(engine, served.engine.settings.project_name) == ["near"]
    assert profiles_on(second[1]) == ["far"]
    listed = (await served.http.get("/instances")).json()
    assert {(i["id"], i["host"]) for i in listed["instances"]} == {
        ("near", "local"),
        ("far", "two"),
    }
    (two,) = listed["hosts"]
    assert (two["name"], two["reachable"], two["address"]) == ("two", True, "127.0.0.1")


async def test_a_profile_moved_to_another_host_runs_there(
    served: Served, second: tuple[SecondEngine, Any]
) -> None:
    """models.conf edited while it serves: far stops on host two and starts here."""
    assert (await served.chat("far")).status_code == 200
    assert profiles_on(second[1]) == ["far"]
    text = served.conf.read_text()
    served.conf.write_text(text.replace("host = two\n", "host = local\n"))

    async def gone_from_two() -> bool:
        return profiles_on(second[1]) == []

    await until(gone_from_two, "far stopped on host two after its move")
    answer = await served.chat("far")
    assert answer.status_code == 200, answer.text
    listed = (await served.http.get("/instances")).json()
    assert [(i["id"], i["host"]) for i in listed["instances"]] == [("far", "local")]


async def test_the_dashboard_lists_both_hosts_and_a_moved_profile_runs_on_its_new_one(
    second: tuple[SecondEngine, Any], engine: Any, all_models: Path, tmp_path: Path
) -> None:
    """The real dashboard (its side API and /v1 proxy) running while far's host is edited."""
    conf, project = hosts_conf(tmp_path, all_models, second[0])
    built = build_engine(conf)
    api = ApiServer(built.switcher, pool=built.pool, idle=built.idle, router=built.router, port=0)
    app = build_app(built, collectors=collectors_for(built), api=api)
    body = {"model": "far", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    try:
        async with app.run_test(size=(160, 48)):
            pane = app.query_one(InstancesPane)

            def far_row(host: str) -> Callable[[], Awaitable[bool]]:
                async def shown() -> bool:
                    return any("far" in row and host in row for row in pane.rows)

                return shown

            async with httpx.AsyncClient(base_url=api.url, timeout=DEADLINE) as http:
                assert (await http.post("/v1/chat/completions", json=body)).status_code == 200
                assert profiles_on(second[1]) == ["far"]
                await until(far_row("two"), "far listed on host two")
                conf.write_text(conf.read_text().replace("host = two\n", "host = local\n"))

                async def gone_from_two() -> bool:
                    return profiles_on(second[1]) == []

                await until(gone_from_two, "far stopped on host two after its move")
                answer = await http.post("/v1/chat/completions", json=body)
                assert answer.status_code == 200, answer.text
                await until(far_row("local"), "far listed on the local host")
                assert app.is_running  # the edit did not end or break the dashboard
    finally:
        await asyncio.wait_for(built.pool.stop(), DEADLINE)
        for container in engine.containers.list(all=True):
            if container.labels.get("com.docker.compose.project", "").startswith(project):
                container.remove(force=True)


async def test_a_stopped_host_is_unreachable_and_the_other_keeps_serving(
    served: Served, second: tuple[SecondEngine, Any]
) -> None:
    """The second dockerd ended by its PID: /instances and /status say so, near still answers."""
    for model in ("near", "far"):
        assert (await served.chat(model)).status_code == 200
    second[0].stop()
    listed = (await served.http.get("/instances")).json()
    (two,) = listed["hosts"]
    assert not two["reachable"] and second[0].url in two["error"], two
    assert [(i["id"], i["host"]) for i in listed["instances"]] == [("near", "local")]
    status = (await served.http.get("/status")).json()
    assert [h["reachable"] for h in status["hosts"]] == [False]
    answer = await served.chat("near")
    assert answer.status_code == 200, answer.text
    refused = await served.chat("far")  # its engine is gone: an answer, not a hang
    assert refused.status_code in (502, 503), refused.text
    # An attached dashboard is told too (its instances list draws the row).
    owner = OwnerApi(served.api.url)
    try:
        sample = await anext(m async for m in owner.stream() if isinstance(m, DashboardSample))
    finally:
        await owner.aclose()
    assert [(h.name, h.reachable) for h in sample.hosts] == [("two", False)]
