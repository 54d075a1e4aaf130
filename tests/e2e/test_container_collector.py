"""The container collector on the real engine: event-driven inspection, outside changes seen."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import docker
import pytest

from llamadash.collectors.container import ContainerCollector
from llamadash.core.context import Engine
from llamadash.core.runtime.docker_events import EventWatch

pytestmark = pytest.mark.engine


class CountingClient:
    """A real docker client that counts container list and inspect API calls."""

    def __init__(self) -> None:
        self.real = docker.from_env(timeout=10)
        self.calls = 0
        api = self.real.api
        real_list, real_inspect = api.containers, api.inspect_container

        def counted_list(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return real_list(*args, **kwargs)

        def counted_inspect(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return real_inspect(*args, **kwargs)

        api.containers, api.inspect_container = counted_list, counted_inspect

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def test_quiet_collects_make_no_api_call_and_a_kill_outside_shows_at_once(
    engine_c: Engine, compose_project: tuple[str, Path]
) -> None:
    outcome = await engine_c.switcher.request("tiny")
    assert outcome.ok, outcome.message
    project, _ = compose_project
    client = CountingClient()
    collector = ContainerCollector(lambda: client, project=project)
    try:
        first = collector.collect()
        assert client.calls >= 2  # listed and inspected
        assert first.present and first.state == "running", first
        assert collector._watch is not None and collector._watch.wait_live(10)
        collector.collect()  # the subscription began after the first look: one more
        before = client.calls
        quiet = [collector.collect() for _ in range(5)]
        assert client.calls == before, "a quiet collect inspected the container"
        assert all(s.state == "running" and s.id == first.id for s in quiet)
        assert quiet[-1].uptime_s is not None and quiet[-1].uptime_s >= first.uptime_s  # type: ignore[operator]

        client.real.containers.get(first.id).kill()  # outside llamadash
        deadline = time.monotonic() + 10  # far below the 30 s re-check
        while (snap := collector.collect()).state == "running":
            assert time.monotonic() < deadline, "the kill was not seen"
            time.sleep(0.1)
        assert snap.state == "exited" and snap.exit_code == 137
        assert client.calls > before
    finally:
        collector.close()
        client.real.close()


def test_event_watch_without_an_engine_always_reports_change(tmp_path: Path) -> None:
    client = docker.DockerClient(base_url=f"unix://{tmp_path}/none.sock", version="1.41")
    watch = EventWatch(client, ["com.docker.compose.project=nope"])
    try:
        assert not watch.wait_live(0.3)
        assert all(watch.take_change() for _ in range(3))  # callers fall back to inspecting
    finally:
        watch.stop()
        client.close()
