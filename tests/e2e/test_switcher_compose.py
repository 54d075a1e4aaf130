"""The switch flow against the real engine, real llama-server image and real GGUFs."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
import pytest

from llamadash.core.context import Engine
from llamadash.core.events import Result, State, SwitchEvent
from llamadash.core.instance import SwitchError
from llamadash.core.runtime.base import EngineUnavailableError
from llamadash.core.runtime.compose import ComposeRuntime
from tests.support.busy import generate_until_busy

pytestmark = pytest.mark.engine


def running_containers(engine: Any, project: str) -> list[Any]:
    return engine.containers.list(filters={"label": f"com.docker.compose.project={project}"})


async def test_switch_a_b_a_runs_each_profiles_args(engine: Any, engine_c: Engine) -> None:
    events: list[SwitchEvent] = []
    engine_c.switcher.subscribe(events.append)
    for target in ("tiny", "gemma", "tiny"):
        outcome = await engine_c.switcher.request(target)
        assert outcome.result == Result.READY, outcome
        profile = engine_c.profiles.get(target)
        assert profile is not None
        expected = engine_c.runtime.command(engine_c.switcher.launch_spec(profile))
        containers = running_containers(engine, engine_c.settings.project_name)
        assert len(containers) == 1
        assert tuple(containers[0].attrs["Config"]["Cmd"]) == expected
        health = httpx.get(f"{engine_c.switcher.endpoint}/health", timeout=5)
        assert health.status_code == 200
        props = httpx.get(f"{engine_c.switcher.endpoint}/props", timeout=5).json()
        assert props["model_path"].endswith(profile.model)
        status = await engine_c.switcher.status()
        assert (status.state, status.profile_id, status.managed) == (State.READY, target, True)
        assert status.args == expected
    states = [e.state for e in events]
    assert states.count(State.READY) == 3
    for needed in (State.STOPPING, State.STARTING, State.LOADING):
        assert needed in states
    # The log stream follows the server across restarts, with a separator per switch.
    lines = engine_c.switcher.logs.snapshot()
    assert sum(line.startswith("--- switching to") for line in lines) == 3
    assert any("listening" in line or "model loaded" in line for line in lines)
    assert (engine_c.settings.project_dir / ".env.prev").exists()


async def test_switch_to_the_ready_profile_does_not_restart(engine_c: Engine) -> None:
    first = await engine_c.switcher.request("tiny")
    assert first.result == Result.READY
    before = (await engine_c.switcher.observe(max_age=0)).ident
    again = await engine_c.switcher.request("tiny")
    assert again.result == Result.READY and again.restarted is False
    assert (await engine_c.switcher.observe(max_age=0)).ident == before


async def test_bad_flag_is_refused_before_the_running_server_is_touched(engine_c: Engine) -> None:
    assert (await engine_c.switcher.request("tiny")).result == Result.READY
    before = (await engine_c.switcher.observe(max_age=0)).ident
    outcome = await engine_c.switcher.request("badflag")
    assert outcome.result == Result.FAILED
    assert "--ctx-sise" in outcome.message and "--ctx-size" in outcome.message
    after = await engine_c.switcher.observe(max_age=0)
    assert after.ident == before and after.running


async def test_missing_model_file_is_refused_with_its_path(engine_c: Engine, tmp_path: Any) -> None:
    conf = engine_c.profiles.path
    conf.write_text(conf.read_text() + "\n[ghost]\nmodel = nowhere.gguf\n")
    from llamadash.core.context import build_engine

    fresh = build_engine(conf)
    try:
        outcome = await fresh.switcher.request("ghost")
        assert outcome.result == Result.FAILED
        assert "nowhere.gguf" in outcome.message and "not found" in outcome.message
    finally:
        await fresh.switcher.aclose()


async def test_corrupt_model_fails_with_exit_code_and_log_tail(engine_c: Engine) -> None:
    outcome = await engine_c.switcher.request("corrupt")
    assert outcome.result == Result.FAILED
    assert "exited with code 1" in outcome.message
    assert any("gguf" in line.lower() for line in outcome.log_tail)
    status = await engine_c.switcher.status()
    assert status.state == State.FAILED and status.exit_code == 1
    assert status.last_error and "exited" in status.last_error
    # The dashboard-facing engine is still usable: the next switch works.
    assert (await engine_c.switcher.request("tiny")).result == Result.READY


async def test_twenty_concurrent_requests_end_in_the_last_one(
    engine: Any, engine_c: Engine
) -> None:
    targets = ["tiny" if i % 2 else "gemma" for i in range(20)]
    tasks = []
    for target in targets:
        tasks.append(asyncio.create_task(engine_c.switcher.request(target)))
        await asyncio.sleep(0.01)
    outcomes = await asyncio.gather(*tasks)
    assert all(o.result in (Result.READY, Result.SUPERSEDED) for o in outcomes)
    assert outcomes[-1].result == Result.READY
    assert any(o.result == Result.SUPERSEDED for o in outcomes)
    containers = running_containers(engine, engine_c.settings.project_name)
    assert len(containers) == 1
    status = await engine_c.switcher.status()
    assert status.profile_id == targets[-1] and status.state == State.READY


async def test_switch_away_from_a_busy_server_needs_no_sigkill(engine_c: Engine) -> None:
    assert (await engine_c.switcher.request("gemma")).result == Result.READY
    worker = await asyncio.to_thread(generate_until_busy, engine_c.switcher.endpoint)
    outcome = await engine_c.switcher.request("tiny")
    assert outcome.result == Result.READY
    assert engine_c.runtime.last_stop in ("SIGTERM", "SIGTERM x2"), engine_c.runtime.last_stop
    worker.join(timeout=10)


async def test_idle_containers_get_one_sigterm(engine_c: Engine) -> None:
    """Issue #18: an idle server gets one SIGTERM (a second one could hang it)."""
    for target in ["tiny", "gemma"] * 15 + ["tiny"]:
        assert (await engine_c.switcher.request(target)).result == Result.READY
        stopped = engine_c.runtime.last_stop  # type: ignore[attr-defined]
        assert stopped in ("", "SIGTERM"), f"switch to {target} needed {stopped}"


async def test_container_killed_outside_llamadash_is_reported(
    engine: Any, engine_c: Engine
) -> None:
    assert (await engine_c.switcher.request("tiny")).result == Result.READY
    running_containers(engine, engine_c.settings.project_name)[0].kill(signal="SIGKILL")
    await engine_c.switcher.observe(max_age=0)  # a fresh look, not the cached one
    status = await engine_c.switcher.status()
    assert status.state == State.FAILED
    assert status.note == "exited 137"


async def test_stop_leaves_nothing_running(engine: Any, engine_c: Engine) -> None:
    assert (await engine_c.switcher.request("tiny")).result == Result.READY
    outcome = await engine_c.switcher.request(None)
    assert outcome.result == Result.STOPPED
    assert running_containers(engine, engine_c.settings.project_name) == []
    assert (await engine_c.switcher.status()).state == State.IDLE


async def test_unknown_profile_id_is_an_error(engine_c: Engine) -> None:
    with pytest.raises(SwitchError):
        await engine_c.switcher.request("nope")


def test_engine_unreachable_is_a_clear_error(tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    runtime = ComposeRuntime(tmp_path, ("compose.yaml",), "ldtest-unreachable")
    with pytest.raises(EngineUnavailableError, match="Docker engine unreachable"):
        runtime.observe()
    assert os.environ["DOCKER_HOST"].endswith("nothing.sock")


async def test_status_during_a_switch_never_waits_for_a_slow_engine(
    engine_c: Engine, monkeypatch: Any
) -> None:
    # Regression: at each state change the cached observation was dropped and the next
    # status() waited for a docker inspect, which the engine answers slowly while it stops or
    # creates the container: every GET /status queued behind it (p99 100+ ms at 'starting').
    import time

    runtime = engine_c.switcher.runtime
    real_observe = runtime.observe

    def slow_observe() -> Any:
        time.sleep(0.3)  # an engine busy creating a container
        return real_observe()

    assert (await engine_c.switcher.request("tiny")).ok
    monkeypatch.setattr(runtime, "observe", slow_observe)
    switching = asyncio.create_task(engine_c.switcher.request("gemma"))
    waits: list[float] = []
    states: set[State] = set()
    while not switching.done():
        busy = engine_c.switcher.busy  # a call made before the job starts may observe
        began = time.monotonic()
        status = await engine_c.switcher.status()
        if busy:
            waits.append(time.monotonic() - began)
            states.add(status.state)
        await asyncio.sleep(0.01)
    assert (await switching).ok
    assert waits and max(waits) < 0.1, max(waits)
    assert {State.STOPPING, State.STARTING} & states, states
