"""Status that tells the truth (issue #10, items 10–15 and 17), on the process runtime.

Real llama-server children and real GGUFs; each test fails on the code before the fix.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from llamadash.collectors.server import ServerCollector
from llamadash.core.context import Engine, build_engine
from llamadash.core.events import Result, State, SwitchEvent

pytestmark = pytest.mark.llama


async def poll(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Wait until ``condition()`` is true (checked every 20 ms), or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout}s: {condition}")
        await asyncio.sleep(0.02)


def conf_path(engine: Engine) -> Path:
    """The models.conf the engine_p fixture wrote."""
    return engine.settings.state_dir.parent / "models.conf"


async def test_a_refused_switch_leaves_the_running_server_and_its_state(
    engine_p: Engine,
) -> None:
    """Item 10: a preflight failure is the request's outcome, not the server's state."""
    switcher = engine_p.switcher
    assert (await switcher.request("tiny")).result == Result.READY
    pid = (await switcher.status()).container
    missing = conf_path(engine_p).read_text() + "\n[gone]\nmodel = no-such-file.gguf\n"
    conf_path(engine_p).write_text(missing)
    reloaded = build_engine(conf_path(engine_p))
    switcher.profiles = reloaded.profiles  # the profile set with the broken profile in it
    await reloaded.switcher.aclose()

    outcome = await switcher.request("gone")
    assert outcome.result == Result.FAILED and "model file not found" in outcome.message
    assert outcome.restarted is False
    status = await switcher.status()
    assert (status.state, status.profile_id, status.container) == (State.READY, "tiny", pid)
    assert status.last_error is not None and "model file not found" in status.last_error
    again = await switcher.request("tiny")
    assert (again.result, again.restarted) == (Result.READY, False), "it restarted tiny"
    assert (await switcher.status()).container == pid


async def test_lines_written_while_nobody_followed_are_caught_up(engine_p: Engine) -> None:
    """Item 11: after a quit, the next llamadash reads on from where the last one stopped."""
    switcher = engine_p.switcher
    assert (await switcher.request("tiny")).result == Result.READY
    log_file: Path = engine_p.runtime.log_path  # type: ignore[attr-defined]
    await poll(lambda: log_file.read_text().splitlines()[-1] in switcher.logs.snapshot())
    await switcher.aclose()  # `q`: llamadash goes, the server stays
    read_to = log_file.stat().st_size
    # The server logs while no llamadash follows it: a request it answers.
    reply = httpx.post(
        f"{switcher.endpoint}/completion", json={"prompt": "unfollowed", "n_predict": 4}
    )
    assert reply.status_code == 200
    await poll(lambda: log_file.stat().st_size > read_to and log_file.read_bytes().endswith(b"\n"))
    unseen = log_file.read_bytes()[read_to:].decode().splitlines()
    assert unseen

    attached = build_engine(conf_path(engine_p))
    try:
        status = await attached.switcher.adopt()
        assert status.state == State.READY
        await poll(lambda: unseen[-1] in attached.switcher.logs.snapshot())
        seen = list(attached.switcher.logs.snapshot())
        start = len(seen) - seen[::-1].index(unseen[0]) - 1
        assert seen[start : start + len(unseen)] == unseen
        assert seen.count(unseen[-1]) == 1, "a line came twice"
    finally:
        await attached.switcher.aclose()


async def test_server_pane_reads_the_new_models_props_after_a_fast_switch(
    engine_p: Engine,
) -> None:
    """Item 12: /props is asked again on every start, not only after /health failed."""
    switcher = engine_p.switcher
    collector = ServerCollector(switcher.endpoint, starts=lambda: switcher.server_starts)
    try:
        assert (await switcher.request("tiny")).result == Result.READY
        first = await collector.collect()
        assert first.model_path is not None and first.model_path.endswith("tiny.gguf")
        # Switch between two polls (faster than the pane's 1 s refresh).
        assert (await switcher.request("gemma")).result == Result.READY
        second = await collector.collect()
        assert second.model_path is not None and "gemma" in second.model_path
    finally:
        await collector.aclose()


async def test_the_separator_follows_the_old_servers_last_lines(engine_p: Engine) -> None:
    """Item 13: "--- switching to … ---" comes after everything the old server wrote."""
    switcher = engine_p.switcher
    assert (await switcher.request("tiny")).result == Result.READY
    assert (await switcher.request("gemma")).result == Result.READY
    old_log = engine_p.runtime.log_path.with_name("llama-server.log.1")  # type: ignore[attr-defined]
    old_last = old_log.read_text().splitlines()[-1]
    lines = switcher.logs.snapshot()
    separator = max(i for i, line in enumerate(lines) if "--- switching to Gemma" in line)
    assert old_last in lines[:separator], (old_last, lines[separator - 3 : separator + 3])


async def test_a_server_killed_from_outside_is_an_event(engine_p: Engine) -> None:
    """Item 15: every observed change is published, also with nobody asking for /status."""
    switcher = engine_p.switcher
    assert (await switcher.request("tiny")).result == Result.READY
    await switcher.adopt()  # what every owner does at start: it also starts the watch
    events: list[SwitchEvent] = []
    switcher.subscribe(events.append)
    os.kill(int((await switcher.status()).container), signal.SIGKILL)
    await poll(lambda: any(e.state == State.FAILED for e in events), timeout=5)
    failed = next(e for e in events if e.state == State.FAILED)
    assert failed.exit_code == -9 and "exited with code -9" in (failed.error or "")


async def test_an_adopted_server_that_is_still_loading_is_not_ready(engine_p: Engine) -> None:
    """Item 15: ready only after /health 200, for servers llamadash did not start too."""
    runtime, switcher = engine_p.runtime, engine_p.switcher
    profile = engine_p.profiles.get("gemma")
    assert profile is not None
    # Started before this llamadash looked (an earlier one quit during the load): Gemma
    # takes ~0.7 s to load here, the adoption a few milliseconds.
    await asyncio.to_thread(runtime.start, switcher.launch_spec(profile))
    async with httpx.AsyncClient(base_url=switcher.endpoint) as client:

        async def health() -> int | None:
            try:
                return (await client.get("/health")).status_code
            except httpx.HTTPError:
                return None

        status = await switcher.adopt()
        assert await health() != 200, "loaded before the test could look: no evidence"
        assert status.state == State.LOADING
        await poll(lambda: switcher.last_event.state == State.READY, timeout=30)
        assert await health() == 200
        assert (await switcher.status()).state == State.READY


async def test_a_switch_to_a_busy_other_port_stops_nothing(
    engine_p: Engine, tmp_path: Path
) -> None:
    """Item 15: the new port is checked before the running server is stopped."""
    assert (await engine_p.switcher.request("tiny")).result == Result.READY
    pid = (await engine_p.switcher.status()).container
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        other = build_engine(conf_path(engine_p), {"port": busy})
        try:
            outcome = await other.switcher.request("gemma")
            assert outcome.result == Result.FAILED
            assert f"port {busy} is already in use" in outcome.message
            obs = await asyncio.to_thread(other.runtime.observe)
            assert obs.running and obs.ident == pid, "the running server was stopped"
        finally:
            await other.switcher.aclose()
