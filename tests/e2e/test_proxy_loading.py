"""The loading stream over real llama-servers: a streamed request hears its model load.

Every request goes through the real API (uvicorn on loopback) to real llama-server processes;
the stages are the engine's own events for the load the request waits for.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from tests.e2e.proxy_fixtures import MakeProxy, Proxy, make_proxy

pytestmark = pytest.mark.engine
__all__ = ["make_proxy"]  # the fixture, used by name

BODIES: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": {"messages": [{"role": "user", "content": "hi"}]},
    "/v1/completions": {"prompt": "Once upon a time"},
}


async def stream_events(
    proxy: Proxy, path: str, model: str, headers: dict[str, str] | None = None
) -> list[Any]:
    """The data of every SSE event of a streamed request (JSON decoded, ``[DONE]`` as is)."""
    body = {**BODIES[path], "model": model, "max_tokens": 8, "temperature": 0, "stream": True}
    raw = ""
    async with proxy.client.stream("POST", path, json=body, headers=headers) as reply:
        assert reply.status_code == 200, await reply.aread()
        assert reply.headers["content-type"].startswith("text/event-stream")
        async for text in reply.aiter_text():
            raw += text
    events: list[Any] = []
    for block in raw.strip().split("\n\n"):
        assert block.startswith("data: "), block
        data = block[len("data: ") :]
        events.append(data if data == "[DONE]" else json.loads(data))  # each one valid JSON
    return events


def answer_of(events: list[Any]) -> str:
    """The model's own text in a stream (its chunks, not the loading ones)."""
    parts = []
    for event in events:
        if event == "[DONE]" or "loading" in event or not event.get("choices"):
            continue
        choice = event["choices"][0]
        parts.append((choice.get("delta") or {}).get("content") or choice.get("text") or "")
    return "".join(parts)


@pytest.mark.parametrize("path", list(BODIES))
async def test_a_stream_that_waits_hears_each_stage_then_the_answer(
    make_proxy: MakeProxy, path: str
) -> None:
    proxy = await make_proxy(loading_state=True)
    events = await stream_events(proxy, path, "tiny2")
    assert events[-1] == "[DONE]"
    first_token = next(i for i, e in enumerate(events) if e != "[DONE]" and "loading" not in e)
    told = events[:first_token]
    assert told and all("loading" in e for e in told), events[:3]
    assert not any(e != "[DONE]" and "loading" in e for e in events[first_token:])
    stages = [e["loading"]["stage"] for e in told]
    assert len(stages) == len(set(stages)), stages  # each stage once
    assert stages[-1] == "ready" and len(stages) >= 2, stages  # a stage of the load, then ready
    kind = "chat.completion.chunk" if path == "/v1/chat/completions" else "text_completion"
    for event in told:
        assert event["object"] == kind and event["model"] == "tiny2"
        choice = event["choices"][0]
        if "delta" in choice:
            said, content = choice["delta"]["reasoning_content"], choice["delta"]["content"]
        else:
            said, content = choice["reasoning_content"], choice["text"]
        assert said.startswith("tiny2: ") and content == ""
    loading = [e["loading"] for e in told if e["loading"]["pct"] is not None]
    assert loading and loading[-1]["pct"] == 100.0
    # The answer after the stages is the model's own: the same request, now ready, says it.
    again = await stream_events(proxy, path, "tiny2")
    assert not any(e != "[DONE]" and "loading" in e for e in again)  # ready: nothing to tell
    assert answer_of(events) and answer_of(events) == answer_of(again)


async def test_it_is_off_by_default_and_the_header_decides_per_request(
    make_proxy: MakeProxy,
) -> None:
    proxy = await make_proxy()
    chat = "/v1/chat/completions"
    events = await stream_events(proxy, chat, "tiny2")
    assert "loading" not in events[0] and events[0]["id"].startswith("chatcmpl-"), events[0]
    assert events[-1] == "[DONE]"
    events = await stream_events(proxy, chat, "tiny", {"X-Loading-State": "1"})
    assert "loading" in events[0] and events[-1] == "[DONE]"
    events = await stream_events(proxy, chat, "tiny2", {"X-Loading-State": "off"})
    assert "loading" not in events[0]
    body = {**BODIES[chat], "model": "tiny", "stream": True}
    bad = await proxy.client.post(chat, json=body, headers={"X-Loading-State": "maybe"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_header", bad.text


async def test_the_openai_sdk_streams_through_it_and_ignores_the_stages(
    make_proxy: MakeProxy,
) -> None:
    from openai import AsyncOpenAI

    proxy = await make_proxy()
    sdk = AsyncOpenAI(base_url=f"{proxy.api.url}/v1", api_key="unused", max_retries=0,
                      default_headers={"X-Loading-State": "1"})  # fmt: skip
    asked: dict[str, Any] = {"model": "tiny2", "max_tokens": 8, "temperature": 0,
                             "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip
    stream = await sdk.chat.completions.create(**asked, stream=True)
    chunks = [chunk async for chunk in stream]
    told = [c for c in chunks if (c.model_extra or {}).get("loading")]
    assert told and all(c.choices[0].delta.content == "" for c in told)
    assert "tiny2: " in str((told[0].choices[0].delta.model_extra or {})["reasoning_content"])
    said = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    whole = await sdk.chat.completions.create(**asked)  # ready now: no stages
    assert said and said == whole.choices[0].message.content
    await sdk.close()


async def test_a_load_that_fails_ends_the_stream_with_the_error_event(
    make_proxy: MakeProxy,
) -> None:
    proxy = await make_proxy(loading_state=True)
    events = await stream_events(proxy, "/v1/chat/completions", "corrupt")
    assert "loading" in events[0], events[0]
    error = events[-1]["error"]
    assert error["code"] == "load_failed" and "corrupt" in error["message"], events[-1]
    assert "[DONE]" not in events
    assert "ready" not in [e["loading"]["stage"] for e in events if "loading" in e]


async def test_a_client_that_leaves_while_it_hears_the_load_leaves_the_queue(
    make_proxy: MakeProxy,
) -> None:
    proxy = await make_proxy(loading_state=True)
    body = {**BODIES["/v1/completions"], "model": "long", "max_tokens": 4, "stream": True}
    async with proxy.client.stream("POST", "/v1/completions", json=body) as reply:
        first = await anext(reply.aiter_text())
        assert '"loading"' in first
        assert proxy.router.waiting("long") == 1  # still waiting: the load is under way
    deadline = time.monotonic() + 10
    while proxy.router.waiting("long") or proxy.engine.pool.in_flight["long"]:
        assert time.monotonic() < deadline, "the gone client still waits or holds a lease"
        await asyncio.sleep(0.02)
