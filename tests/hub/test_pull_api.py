"""``POST /pull`` over the real API, against the STAND-IN hub: progress arrives on /events."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from llamadash.api.server import ApiServer
from llamadash.core.context import build_engine
from tests.hub.conftest import GATED_REPO, TINY_REPO
from tests.support.hub_standin import StandinHub

pytestmark = pytest.mark.engine


@pytest.fixture
async def api(
    standin: StandinHub, conf: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ApiServer]:
    """The side API over a process-runtime engine for ``conf``; the Hub is the stand-in."""
    monkeypatch.setenv("HF_ENDPOINT", standin.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(conf.parent / "hf-home"))
    with conf.open("a") as out:
        out.write(f"\n[sourced]\nmodel = tiny-Q8_0.gguf\nhf = {TINY_REPO}:Q8_0\n")
    engine = build_engine(conf, {"runtime": "process"})
    server = ApiServer(engine.switcher, pool=engine.pool, idle=engine.idle, port=0, token="")
    await server.start()
    yield server
    await server.stop()
    await engine.pool.aclose()


async def pull_events(client: httpx.AsyncClient, into: list[dict[str, object]]) -> None:
    """Collect every ``pull`` event of GET /events until a pull is done or failed."""
    async with client.stream("GET", "/events") as stream:
        name = ""
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name == "pull":
                into.append(json.loads(line[6:]))
                if into[-1]["state"] in ("done", "failed"):
                    return


async def test_a_pull_reports_its_progress_on_events_and_lands_the_file(
    api: ApiServer, standin: StandinHub, conf: Path, hub_files: dict[str, Path]
) -> None:
    async with httpx.AsyncClient(base_url=api.url, timeout=60) as client:
        seen: list[dict[str, object]] = []
        listening = asyncio.create_task(pull_events(client, seen))
        while api.context.event_clients == 0:  # subscribed before the pull starts
            await asyncio.sleep(0.01)
        reply = await client.post("/pull", json={"model": TINY_REPO})
        assert reply.status_code == 202, reply.text
        assert reply.json()["state"] == "planning" and reply.headers["location"] == "/events"
        await asyncio.wait_for(listening, 60)
    states = [event["state"] for event in seen]
    assert states[-1] == "done", seen
    assert "pulling" in states
    done = seen[-1]
    landed = Path(str(done["path"]))
    assert landed == conf.parent / "models" / TINY_REPO / "tiny-Q4_K_M.gguf"
    expected = hashlib.sha256(hub_files["tiny"].read_bytes()).hexdigest()
    assert hashlib.sha256(landed.read_bytes()).hexdigest() == expected
    assert done["done"] == done["total"] == landed.stat().st_size


async def test_a_profile_id_pulls_what_its_hf_names_and_waits(
    api: ApiServer, conf: Path, hub_files: dict[str, Path]
) -> None:
    async with httpx.AsyncClient(base_url=api.url, timeout=60) as client:
        reply = await client.post("/pull", json={"model": "sourced", "wait": True})
    assert reply.status_code == 200, reply.text
    assert reply.json()["quant"] == "Q8_0"
    landed = conf.parent / "models" / "tiny-Q8_0.gguf"  # where the profile's model points
    assert landed.read_bytes() == hub_files["other"].read_bytes()


async def test_refusals_name_the_reason(api: ApiServer) -> None:
    async with httpx.AsyncClient(base_url=api.url, timeout=60) as client:
        gated = await client.post("/pull", json={"model": GATED_REPO, "wait": True})
        assert gated.status_code == 502, gated.text
        assert gated.json()["state"] == "failed" and "licence" in gated.json()["error"]
        bad = await client.post("/pull", json={"model": "not a repo"})
        assert bad.status_code == 400, bad.text
        no_source = await client.post("/pull", json={"model": "old"})
        assert no_source.status_code == 400 and "hf =" in no_source.json()["message"]
        cross = await client.post(
            "/pull", json={"model": TINY_REPO}, headers={"Origin": "http://evil.example"}
        )
        assert cross.status_code == 403
    assert list(api.context.pulls.jobs) == [GATED_REPO]  # nothing else was started
