"""The OpenAI-compatible endpoint over real llama-servers: models on demand, queues, no thrash.

Every request goes through the real API (uvicorn on loopback) to real llama-server processes;
the answering server is identified by the ``model`` it reports (its alias: the profile id).
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from llamadash.core.events import Result
from tests.e2e.proxy_fixtures import MakeProxy, Proxy, make_proxy

pytestmark = pytest.mark.engine
__all__ = ["make_proxy"]  # the fixture, used by name


async def slots_processing(proxy: Proxy, profile_id: str) -> bool:
    """Whether a slot of ``profile_id``'s server is processing (asked of it directly)."""
    instance = proxy.engine.pool.find(profile_id)
    assert instance is not None
    async with httpx.AsyncClient(timeout=5) as direct:
        slots = (await direct.get(f"{instance.endpoint}/slots")).json()
    return any(slot.get("is_processing") for slot in slots)


async def test_each_request_is_answered_by_the_model_it_names(make_proxy: MakeProxy) -> None:
    proxy = await make_proxy()

    async def client(model: str) -> list[str]:
        answered = []
        for _ in range(3):
            reply = await proxy.chat(model)
            assert reply.status_code == 200, reply.text
            answered.append(reply.json()["model"])
        return answered

    first, second = await asyncio.gather(client("tiny"), client("tiny2"))
    assert first == ["tiny"] * 3 and second == ["tiny2"] * 3
    # The header wins over the body; the CLI's matching rules apply to both.
    reply = await proxy.client.post(
        "/v1/chat/completions",
        headers={"X-Model-Id": "Second tiny"},
        json={"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
    )
    assert reply.status_code == 200 and reply.json()["model"] == "tiny2", reply.text


async def test_interleaved_requests_cost_at_most_two_swaps(make_proxy: MakeProxy) -> None:
    proxy = await make_proxy()
    models = ["tiny", "tiny2"] * 6

    async def ask(index: int, model: str) -> str:
        await asyncio.sleep(index * 0.02)  # A B A B …, over longer than a swap takes
        reply = await proxy.chat(model)
        assert reply.status_code == 200, reply.text
        return str(reply.json()["model"])

    answered = await asyncio.gather(*(ask(i, m) for i, m in enumerate(models)))
    assert answered == models
    assert sum(proxy.router.swaps.values()) <= 2, proxy.router.swaps
    metrics = (await proxy.client.get("/metrics")).text
    assert 'llamadash_proxy_swaps_total{profile="tiny2"}' in metrics, metrics
    values = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("llamadash_proxy_") and not line.startswith("#")
    }
    # The 6 answers of tiny generated up to 4 tokens each (the server's own usage, summed).
    assert 0 < values['llamadash_proxy_tokens_out_total{profile="tiny"}'] <= 24, values
    assert values['llamadash_proxy_queue_wait_seconds_count{profile="tiny2"}'] == 6
    assert values['llamadash_proxy_requests_total{profile="tiny",code="200"}'] == 6


async def test_a_full_queue_answers_429_with_retry_after(make_proxy: MakeProxy) -> None:
    proxy = await make_proxy(queue_limit=2)
    assert (await proxy.chat("tiny")).status_code == 200
    replies = await asyncio.gather(*(proxy.chat("long") for _ in range(6)))
    codes = sorted(r.status_code for r in replies)
    assert codes == [200, 200, 429, 429, 429, 429], [r.text for r in replies]
    refused = next(r for r in replies if r.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["code"] == "queue_full"


async def test_an_unknown_model_is_a_404_with_near_matches_and_starts_nothing(
    make_proxy: MakeProxy,
) -> None:
    proxy = await make_proxy()
    reply = await proxy.chat("tin")  # tiny or tiny2: never a guess
    assert reply.status_code == 404, reply.text
    error = reply.json()["error"]
    assert error["code"] == "model_not_found" and error["param"] == "model"
    assert "tiny2" in error["message"]
    reply = await proxy.chat("gpt-4o")
    assert reply.status_code == 404, reply.text
    assert proxy.engine.pool.foreground.profile_id is None
    assert proxy.engine.switcher.stats.switches == 0


async def test_a_failed_load_answers_every_waiting_request_with_the_reason(
    make_proxy: MakeProxy,
) -> None:
    proxy = await make_proxy()
    replies = await asyncio.gather(*(proxy.chat("corrupt") for _ in range(3)))
    for reply in replies:
        assert reply.status_code == 502, reply.text
        error = reply.json()["error"]
        assert error["code"] == "load_failed" and "corrupt" in error["message"], error


async def test_the_stream_arrives_while_the_model_still_generates(make_proxy: MakeProxy) -> None:
    proxy = await make_proxy()
    body = {"model": "long", "prompt": "Once upon a time", "n_predict": 64, "stream": True}
    pieces = 0
    still_generating = None
    async with proxy.client.stream("POST", "/completion", json=body) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        async for _piece in reply.aiter_raw():
            pieces += 1
            if still_generating is None:  # the first piece: the server is not done yet
                still_generating = await slots_processing(proxy, "long")
    assert still_generating is True
    assert pieces > 5


async def test_a_client_that_goes_away_frees_the_slot(make_proxy: MakeProxy) -> None:
    proxy = await make_proxy()
    body = {"model": "long", "prompt": "Once upon a time", "n_predict": 4000, "stream": True,
            "ignore_eos": True}  # fmt: skip
    async with proxy.client.stream("POST", "/completion", json=body) as reply:
        async for _piece in reply.aiter_raw():
            break
        assert await slots_processing(proxy, "long")
    deadline = time.monotonic() + 10  # 4,000 tokens would take minutes on this CPU
    while await slots_processing(proxy, "long"):
        assert time.monotonic() < deadline, "the slot still generates for a gone client"
        await asyncio.sleep(0.05)
    assert proxy.engine.pool.in_flight["long"] == 0


async def test_a_swap_waits_for_requests_in_flight_then_503(make_proxy: MakeProxy) -> None:
    proxy = await make_proxy(max_wait=1.0)
    body = {"model": "long", "prompt": "Once upon a time", "n_predict": 4000, "stream": True,
            "ignore_eos": True}  # fmt: skip
    async with proxy.client.stream("POST", "/completion", json=body) as reply:
        stream = reply.aiter_raw()
        await anext(stream)
        other = await proxy.chat("tiny")
        assert other.status_code == 503, other.text
        assert other.json()["error"]["code"] == "busy"
        assert "long" in other.json()["error"]["message"]
        await anext(stream)  # the request in flight was not cut
    assert proxy.engine.pool.foreground.profile_id == "long"


async def test_a_persons_switch_is_not_undone_by_requests(make_proxy: MakeProxy) -> None:
    proxy = await make_proxy(max_wait=0.5)
    outcome = await proxy.engine.pool.switch("tiny")  # as m, the CLI or POST /switch do
    assert outcome.result == Result.READY
    reply = await proxy.chat("tiny2")
    assert reply.status_code == 409, reply.text
    error = reply.json()["error"]
    assert error["code"] == "held_by_user" and "tiny" in error["message"]
    assert (await proxy.chat("tiny")).status_code == 200
    assert proxy.engine.pool.foreground.profile_id == "tiny"


async def test_on_demand_off_serves_only_what_runs(make_proxy: MakeProxy) -> None:
    proxy = await make_proxy(on_demand=False)
    reply = await proxy.chat("tiny")
    assert reply.status_code == 409, reply.text
    assert reply.json()["error"]["code"] == "model_not_running"
    assert (await proxy.engine.pool.switch("tiny")).result == Result.READY
    assert (await proxy.chat("tiny")).status_code == 200


async def test_v1_models_lists_every_profile_with_its_state(make_proxy: MakeProxy) -> None:
    proxy = await make_proxy()
    assert (await proxy.chat("tiny")).status_code == 200
    listed = (await proxy.client.get("/v1/models")).json()
    assert listed["object"] == "list"
    states = {card["id"]: card["state"] for card in listed["data"]}
    assert states["tiny"] == "loaded" and states["tiny2"] == "unloaded"
    assert set(states) == {p.id for p in proxy.engine.profiles.profiles}


async def test_a_web_page_cannot_use_the_endpoint(make_proxy: MakeProxy) -> None:
    proxy = await make_proxy()
    body = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}]}
    cross = await proxy.client.post(
        "/v1/chat/completions", json=body, headers={"Origin": "http://evil.example"}
    )
    assert cross.status_code == 403, cross.text
    rebound = await proxy.client.post(
        "/v1/chat/completions", json=body, headers={"Host": "evil.example"}
    )
    assert rebound.status_code == 421, rebound.text
    form = await proxy.client.post(
        "/v1/completions",
        content=b'{"model": "tiny", "prompt": "x"}',
        headers={"Content-Type": "text/plain", "Sec-Fetch-Site": "same-origin"},
    )
    assert form.status_code == 403, form.text
    assert proxy.engine.switcher.stats.switches == 0


async def test_a_storm_of_mixed_requests_is_answered_without_a_server_error(
    make_proxy: MakeProxy,
) -> None:
    proxy = await make_proxy(queue_limit=8)
    models = ["tiny", "tiny2", "embed"]
    codes: dict[int, int] = {}

    async def client(number: int) -> None:
        for request in range(10):
            reply = await proxy.chat(models[(number + request) % len(models)])
            codes[reply.status_code] = codes.get(reply.status_code, 0) + 1
            if reply.status_code == 200:
                assert reply.json()["model"] == models[(number + request) % len(models)]

    await asyncio.gather(*(client(n) for n in range(20)))
    assert sum(codes.values()) == 200
    assert set(codes) <= {200, 429}, codes
    assert codes.get(200, 0) > 0
    pool = proxy.engine.pool
    assert len([i for i in pool.instances() if i.running]) <= 1  # max_instances = 1
    assert not pool.in_flight and proxy.router.waiting() == 0


async def test_the_openai_sdk_works_unchanged(make_proxy: MakeProxy) -> None:
    from openai import AsyncOpenAI

    proxy = await make_proxy()
    sdk = AsyncOpenAI(base_url=f"{proxy.api.url}/v1", api_key="unused", max_retries=0)
    chat = await sdk.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=4
    )
    assert chat.model == "tiny" and chat.choices[0].message.content
    stream = await sdk.chat.completions.create(
        model="tiny2", messages=[{"role": "user", "content": "hi"}], max_tokens=8, stream=True
    )
    deltas = [c.choices[0].delta.content async for c in stream if c.choices]
    assert len(deltas) > 1 and "".join(d or "" for d in deltas)
    embedded = await sdk.embeddings.create(model="embed", input="hello there")
    assert len(embedded.data[0].embedding) > 0
    listed = await sdk.models.list()
    assert {m.id for m in listed.data} >= {"tiny", "tiny2", "embed"}
    await sdk.close()


async def test_a_server_crash_mid_stream_ends_it_with_an_error_event(
    make_proxy: MakeProxy,
) -> None:
    import os
    import signal

    proxy = await make_proxy()
    body = {"model": "long", "prompt": "Once upon a time", "n_predict": 4000, "stream": True,
            "ignore_eos": True}  # fmt: skip
    received = b""
    async with proxy.client.stream("POST", "/completion", json=body) as reply:
        stream = reply.aiter_raw()
        received += await anext(stream)
        instance = proxy.engine.pool.find("long")
        assert instance is not None and instance.last_observation is not None
        pid = int(instance.last_observation.ident)
        os.kill(pid, signal.SIGKILL)
        async for piece in stream:
            received += piece
    last = received.strip().split(b"\n\n")[-1]
    assert last.startswith(b"data: ") and b'"error"' in last, last
    assert proxy.engine.pool.in_flight["long"] == 0


async def test_the_proxy_port_serves_only_the_openai_routes(
    make_proxy: MakeProxy, free_port: int
) -> None:
    import socket

    with socket.socket() as probe:  # another free port: free_port is the server's
        probe.bind(("127.0.0.1", 0))
        proxy_port = int(probe.getsockname()[1])
    proxy = await make_proxy(proxy_port=proxy_port)
    assert proxy.api.proxy_url == f"http://127.0.0.1:{proxy_port}"
    async with httpx.AsyncClient(base_url=proxy.api.proxy_url, timeout=60) as client:
        body = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
        reply = await client.post("/v1/chat/completions", json=body)
        assert reply.status_code == 200 and reply.json()["model"] == "tiny", reply.text
        assert (await client.get("/v1/models")).status_code == 200
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/status")).status_code == 404
        assert (await client.post("/switch", json={"model": "tiny2"})).status_code == 404
        cross = await client.post("/v1/chat/completions", json=body,
                                  headers={"Origin": "http://evil.example"})  # fmt: skip
        assert cross.status_code == 403
    assert (await proxy.client.get("/status")).status_code == 200  # the API port has it all


async def test_agent_flags_set_request_fields_or_run_a_variant(make_proxy: MakeProxy) -> None:
    proxy = await make_proxy()
    body = {"model": "tiny", "prompt": "Once", "n_predict": 2}
    sampled = await proxy.client.post(
        "/completion", json=body, headers={"X-Agent-Flags": "--top-k 7 --temp 0.25"}
    )
    assert sampled.status_code == 200, sampled.text
    settings = sampled.json()["generation_settings"]  # what the server really used
    assert settings["top_k"] == 7 and abs(settings["temperature"] - 0.25) < 1e-6
    assert sampled.json()["model"] == "tiny"
    variant = await proxy.client.post(
        "/completion", json=body, headers={"X-Agent-Flags": "--cache-type-k q8_0 -c 384"}
    )
    assert variant.status_code == 200, variant.text
    variant_id = variant.json()["model"]
    assert variant_id.startswith("tiny+"), variant_id
    instance = proxy.engine.pool.find(variant_id)
    assert instance is not None and instance.last_observation is not None
    args = instance.last_observation.args
    assert "--cache-type-k" in args and args[args.index("--cache-type-k") + 1] == "q8_0"
    assert "384" in args
    again = await proxy.client.post(
        "/completion", json=body, headers={"X-Agent-Flags": "-c 384 --cache-type-k q8_0"}
    )
    assert again.json()["model"] == variant_id  # the same flags: the same instance
    for header, says in (("--top-kk 3", "--top-k"), ("--port 1", "set by llamadash")):
        refused = await proxy.client.post(
            "/completion", json=body, headers={"X-Agent-Flags": header}
        )
        assert refused.status_code == 400, refused.text
        assert says in refused.json()["error"]["message"]
