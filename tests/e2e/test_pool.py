"""The instance pool on both runtimes: real llama-servers side by side on their own ports.

Admission (count and memory), eviction (least recently used, never pinned, never busy), the
idle ttl, stop all, a crash seen from outside, and a later llamadash adopting the pool.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from llamadash.core.admission import AdmissionRefused
from llamadash.core.context import Engine, build_engine
from llamadash.core.events import Result, State
from llamadash.core.pool_view import describe
from tests.e2e.conftest import write_conf
from tests.support.busy import generate_until_busy

pytestmark = pytest.mark.engine

EXTRA_PROFILES = """
[tiny2]
name = Second tiny
model = tiny2.gguf
ctx = 256
threads = 1
{tiny2_extra}

[tiny3]
name = Third tiny
model = tiny3.gguf
ctx = 256
threads = 1

# One slot with a long context: a generation keeps it busy for tens of seconds.
[long]
name = Gemma, one long slot
model = gemma-3-270m-Q4_K_M.gguf
ctx = 4096
parallel = 1
threads = 1
{long_extra}
"""


@pytest.fixture(params=["process", "compose"])
async def pool_engine(
    request: pytest.FixtureRequest,
    all_models: Path,
    llama_server_bin: Path,
    free_port: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Callable[..., Engine]]:
    """A factory of Engines on one models.conf (process or compose runtime); all stopped after."""
    runtime = request.param
    monkeypatch.setenv("LLAMA_SERVER", str(llama_server_bin))
    for name in ("tiny2.gguf", "tiny3.gguf"):  # other files: other profiles, same speed
        if not (all_models / name).exists():
            shutil.copyfile(all_models / "tiny.gguf", all_models / name)
    project, project_dir = "proc", tmp_path
    docker: Any = None
    if runtime == "compose":
        docker = request.getfixturevalue("engine")
        image = request.getfixturevalue("llama_image")
        project, project_dir = request.getfixturevalue("compose_project")
    built: list[Engine] = []

    def make(tiny2_extra: str = "", long_extra: str = "", **overrides: Any) -> Engine:
        conf = write_conf(
            tmp_path / "models.conf",
            models_dir=all_models,
            port=free_port,
            project=project,
            project_dir=project_dir,
            state_dir=tmp_path / "state",
            runtime=runtime,
            image=image if runtime == "compose" else "",
        )
        with conf.open("a") as out:
            out.write(EXTRA_PROFILES.format(tiny2_extra=tiny2_extra, long_extra=long_extra))
        engine = build_engine(conf, {"max_instances": 2, **overrides})
        built.append(engine)
        return engine

    yield make
    for engine in built:
        await engine.pool.stop()
        await engine.idle.aclose()
        await engine.pool.aclose()
    if docker is not None:  # the instances beside the foreground one have projects of their own
        for container in docker.containers.list(all=True):
            if container.labels.get("com.docker.compose.project", "").startswith(project):
                container.remove(force=True)


def model_of(endpoint: str) -> str:
    """The alias the server at ``endpoint`` answers with (the profile id)."""
    models = httpx.get(f"{endpoint}/v1/models", timeout=5).json()
    return str(models["data"][0]["id"])


async def test_two_servers_answer_at_once_on_their_own_ports(
    pool_engine: Callable[..., Engine],
) -> None:
    engine = pool_engine()
    pool = engine.pool
    first = await pool.start("tiny")
    assert first.result == Result.READY, first.message
    second = await pool.start("gemma")
    assert second.result == Result.READY, second.message
    tiny, gemma = pool.find("tiny"), pool.find("gemma")
    assert tiny is pool.foreground and gemma is not None and gemma is not tiny
    assert gemma.settings.port in engine.settings.ports
    assert model_of(tiny.endpoint) == "tiny" and model_of(gemma.endpoint) == "gemma"
    reply = httpx.post(f"{gemma.endpoint}/completion", json={"prompt": "Hi", "n_predict": 2})
    assert reply.status_code == 200
    shown = {info.id: info for info in await describe(pool, engine.idle, probe=True)}
    assert set(shown) == {"tiny", "gemma"}
    assert shown["tiny"].foreground and not shown["gemma"].foreground
    assert shown["gemma"].state == State.READY and shown["gemma"].health_ms is not None
    assert shown["gemma"].memory and shown["gemma"].memory_measured  # measured at its load
    assert (await pool.start("gemma")).restarted is False  # already runs: no second copy
    outcomes = await pool.stop()
    assert all(o.ok for o in outcomes)
    assert await describe(pool) == ()
    for endpoint in (tiny.endpoint, gemma.endpoint):
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{endpoint}/health", timeout=1)


async def test_switching_to_an_instance_beside_moves_it_to_the_foreground(
    pool_engine: Callable[..., Engine],
) -> None:
    engine = pool_engine()
    pool = engine.pool
    assert (await pool.start("tiny")).ok
    assert (await pool.start("tiny2")).ok
    beside = pool.find("tiny2")
    assert beside is not None and beside is not pool.foreground
    outcome = await pool.switch("tiny2")
    assert outcome.result == Result.READY, outcome.message
    assert pool.find("tiny2") is pool.foreground  # one copy of a profile, on the main port
    assert model_of(pool.foreground.endpoint) == "tiny2"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{beside.endpoint}/health", timeout=1)
    assert {i.id for i in await describe(pool)} == {"tiny2"}


async def test_a_third_start_stops_the_least_recently_used_idle_one(
    pool_engine: Callable[..., Engine],
) -> None:
    engine = pool_engine()
    pool = engine.pool
    assert (await pool.start("tiny")).ok
    assert (await pool.start("tiny2")).ok
    assert await engine.idle.tick() == []  # the first look: where each slot stands
    # tiny is used after tiny2 started: tiny2 is now the least recently used.
    httpx.post(f"{pool.foreground.endpoint}/completion", json={"prompt": "a", "n_predict": 1})
    await engine.idle.tick()
    assert pool.foreground.last_used > pool.find("tiny2").last_used  # type: ignore[union-attr]
    assert (await pool.start("tiny3")).ok
    running = {i.id for i in await describe(pool)}
    assert running == {"tiny", "tiny3"}


async def test_a_pinned_instance_is_never_evicted(pool_engine: Callable[..., Engine]) -> None:
    engine = pool_engine(tiny2_extra="pin = true")
    pool = engine.pool
    assert (await pool.start("tiny2")).ok  # pinned, and the least recently used
    assert (await pool.start("tiny")).ok
    assert (await pool.start("tiny3")).ok
    assert {i.id for i in await describe(pool)} == {"tiny2", "tiny3"}


async def test_a_busy_instance_is_never_evicted_and_a_full_pool_refuses(
    pool_engine: Callable[..., Engine],
) -> None:
    engine = pool_engine(tiny2_extra="pin = true")
    pool = engine.pool
    assert (await pool.start("long")).ok
    assert (await pool.start("tiny2")).ok  # pinned
    busy = await asyncio.to_thread(generate_until_busy, pool.foreground.endpoint)
    with pytest.raises(AdmissionRefused) as refused:
        await pool.start("tiny3")
    message = str(refused.value)
    assert "max_instances = 2" in message
    assert "long (busy" in message and "tiny2 (pinned" in message
    assert {i.id for i in await describe(pool)} == {"long", "tiny2"}  # nothing was stopped
    await pool.stop("long")
    busy.join(timeout=30)


async def test_a_low_memory_budget_refuses_naming_what_holds_it(
    pool_engine: Callable[..., Engine],
) -> None:
    engine = pool_engine(memory_budget="40MiB", tiny2_extra="pin = true")
    pool = engine.pool
    assert (await pool.start("tiny2")).ok
    with pytest.raises(AdmissionRefused) as refused:
        await pool.start("gemma")
    message = str(refused.value)
    assert "cannot start gemma: needs ~" in message and "(estimate)" in message
    assert "free of 40 MiB (memory_budget)" in message and "tiny2 (pinned" in message


async def test_ttl_stops_an_idle_instance_and_not_a_busy_one(
    pool_engine: Callable[..., Engine],
) -> None:
    engine = pool_engine(long_extra="ttl = 1")
    pool = engine.pool
    assert (await pool.start("long")).ok
    long = pool.find("long")
    assert long is not None
    busy = await asyncio.to_thread(generate_until_busy, long.endpoint)
    began = time.monotonic()
    while time.monotonic() - began < 2.5:  # past its ttl, and busy all along
        assert await engine.idle.tick() == []
        await asyncio.sleep(0.2)
    assert pool.find("long") is long and long.running
    await pool.stop("long")
    busy.join(timeout=30)
    assert (await pool.start("long")).ok
    deadline = time.monotonic() + 10
    stopped: list[str] = []
    while not stopped and time.monotonic() < deadline:
        stopped = await engine.idle.tick()
        await asyncio.sleep(0.2)
    assert stopped == ["long"]
    assert pool.find("long") is None


async def test_one_instance_killed_from_outside_only_it_shows_exited(
    pool_engine: Callable[..., Engine],
) -> None:
    engine = pool_engine()
    pool = engine.pool
    assert (await pool.start("tiny")).ok
    assert (await pool.start("tiny2")).ok
    tiny2 = pool.find("tiny2")
    assert tiny2 is not None
    _kill_server(tiny2)
    deadline = time.monotonic() + 20
    shown: dict[str, Any] = {}
    while time.monotonic() < deadline:
        shown = {i.id: i for i in await describe(pool)}
        if shown.get("tiny2") is not None and shown["tiny2"].state == State.FAILED:
            break
        await asyncio.sleep(0.2)
    assert shown["tiny2"].state == State.FAILED, shown
    assert "137" in (shown["tiny2"].error or "") or "-9" in (shown["tiny2"].error or "")
    assert shown["tiny"].state == State.READY
    assert httpx.get(f"{pool.foreground.endpoint}/health", timeout=2).status_code == 200


async def test_a_crashed_instance_is_restarted_up_to_max_restarts(
    pool_engine: Callable[..., Engine],
) -> None:
    engine = pool_engine(max_restarts=1)
    pool = engine.pool
    assert (await pool.start("tiny")).ok
    assert (await pool.start("tiny2")).ok
    tiny2 = pool.find("tiny2")
    assert tiny2 is not None
    first = _kill_server(tiny2)
    restarted = await _wait_for(
        lambda: tiny2.running and tiny2.last_event.state == State.READY and _pid(tiny2) != first
    )
    assert restarted, tiny2.last_event
    assert model_of(tiny2.endpoint) == "tiny2"
    _kill_server(tiny2)  # the second crash: max_restarts = 1 is spent
    assert await _wait_for(lambda: tiny2.last_event.state == State.FAILED)
    assert engine.restarts.pending == 0  # scheduled with the FAILED event, had it been allowed
    assert not tiny2.running


async def _wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.1)
    return condition()


def _pid(instance: Any) -> int | None:
    obs = instance.last_observation
    return obs.pid if obs is not None and obs.running else None


def _kill_server(instance: Any) -> int:
    """SIGKILL the llama-server process of ``instance`` (under a container's init too)."""
    pid = _pid(instance)
    assert pid
    server = [p for p in [pid, *_children(pid)] if b"llama-server" in _cmdline(p)][-1]
    os.kill(server, signal.SIGKILL)
    return pid


async def test_a_later_llamadash_adopts_the_instances_beside_the_foreground(
    pool_engine: Callable[..., Engine],
) -> None:
    first = pool_engine()
    assert (await first.pool.start("tiny")).ok
    assert (await first.pool.start("tiny2")).ok
    await first.idle.aclose()
    await first.pool.aclose()  # quits: the servers keep running
    later = pool_engine()
    await later.pool.adopt(watch=False)
    shown = {i.id: i for i in await describe(later.pool)}
    assert set(shown) == {"tiny", "tiny2"}
    assert shown["tiny2"].state == State.READY and not shown["tiny2"].foreground
    assert all(o.ok for o in await later.pool.stop())


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        for child in map(int, text):
            found += [child, *_children(child)]
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
