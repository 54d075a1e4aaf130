"""Status that tells the truth on the compose runtime (issue #10, items 11, 15 and 17).

The real test engine, the local llama-server image and real GGUFs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from llamadash.core.context import Engine
from llamadash.core.events import Result, State, SwitchEvent
from llamadash.core.runtime.base import EngineUnavailableError
from llamadash.core.runtime.compose import ComposeRuntime
from tests.e2e.test_truthful_status import poll
from tests.support.socket_proxy import UnixSocketProxy

pytestmark = pytest.mark.engine


async def test_compose_logs_written_while_nobody_followed_are_caught_up(
    make_engine: Callable[..., Engine],
) -> None:
    """Item 11: the next llamadash reads on from the timestamp of the last line read."""
    first = make_engine()
    assert (await first.switcher.request("tiny")).result == Result.READY
    runtime = first.runtime
    ident = (await first.switcher.status()).container
    await poll(lambda: runtime.log_tail(ident, 1)[-1] in first.switcher.logs.snapshot())
    await first.switcher.aclose()  # `q`
    read = len(runtime.log_tail(ident, 100_000))
    reply = httpx.post(
        f"{first.switcher.endpoint}/completion", json={"prompt": "unfollowed", "n_predict": 4}
    )
    assert reply.status_code == 200
    await poll(lambda: len(runtime.log_tail(ident, 100_000)) > read)
    unseen = runtime.log_tail(ident, 100_000)[read:]

    attached = make_engine()
    try:
        assert (await attached.switcher.adopt()).state == State.READY
        await poll(lambda: unseen[-1] in attached.switcher.logs.snapshot())
        seen = list(attached.switcher.logs.snapshot())
        assert seen[-len(unseen) :] == unseen
        assert seen.count(unseen[-1]) == 1, "a line came twice"
    finally:
        await attached.switcher.aclose()


async def test_a_switch_says_when_flags_were_not_checked(
    make_engine: Callable[..., Engine],
) -> None:
    """Item 17: an image the engine does not have yet cannot be asked for its --help."""
    engine = make_engine(image="llamadash/not-built-here:none")
    events: list[SwitchEvent] = []
    engine.switcher.subscribe(events.append)
    try:
        await engine.switcher.request("tiny")
        starting = [e for e in events if e.state == State.STARTING]
        assert starting, events
        assert starting[0].warning == (
            "flags not checked: image llamadash/not-built-here:none is not on this Docker"
            " engine yet"
        )
    finally:
        await engine.switcher.aclose()


def test_an_engine_that_stops_answering_is_named(tmp_path: Path, engine: Any) -> None:
    """Item 15: not ConnectionRefusedError(111…), but which engine stopped answering."""
    target = os.environ["DOCKER_HOST"].removeprefix("unix://")
    proxy = UnixSocketProxy(tmp_path / "engine.sock", target)
    old = os.environ["DOCKER_HOST"]
    os.environ["DOCKER_HOST"] = proxy.url
    try:
        runtime = ComposeRuntime(tmp_path, (), "ldtest-gone")
        assert runtime.observe().state == "absent"
        proxy.close()
        with pytest.raises(EngineUnavailableError) as caught:
            runtime.observe()
        assert str(caught.value) == f"Docker engine stopped answering at {proxy.url}"
        runtime.close()
    finally:
        os.environ["DOCKER_HOST"] = old


async def test_an_engine_dying_mid_switch_fails_the_switch_with_what_still_runs(
    make_engine: Callable[..., Engine], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 15: the reason names the engine and says whether llama-server still answers."""
    engine_c = make_engine()
    assert (await engine_c.switcher.request("tiny")).result == Result.READY
    await engine_c.switcher.aclose()
    target = os.environ["DOCKER_HOST"].removeprefix("unix://")
    proxy = UnixSocketProxy(tmp_path / "engine.sock", target)
    monkeypatch.setenv("DOCKER_HOST", proxy.url)
    dying = make_engine()
    dying.switcher.subscribe(lambda e: proxy.close() if e.state == State.STOPPING else None)
    try:
        outcome = await dying.switcher.request("gemma")
    finally:
        await dying.switcher.aclose()
    assert outcome.result == Result.FAILED
    assert outcome.message.startswith(f"Docker engine stopped answering at {proxy.url}; ")
    assert "llama-server still answers on" in outcome.message
    assert "internal error" not in outcome.message
