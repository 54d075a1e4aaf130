"""docker_host names the engine for the SDK and the compose CLI alike, DOCKER_HOST aside."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llamadash.core.context import Engine
from llamadash.core.events import Result

pytestmark = pytest.mark.engine


def running_profiles(client: Any, project: str) -> list[str]:
    """The profile labels of the project's running containers, on the engine ``client`` asks."""
    found = client.containers.list(filters={"label": f"com.docker.compose.project={project}"})
    return [c.labels.get("io.llamadash.profile", "") for c in found]


@pytest.mark.parametrize("named_by", ["url", "context"])
async def test_docker_host_drives_both_clients_while_docker_host_points_nowhere(
    named_by: str,
    make_engine: Callable[..., Engine],
    engine: Any,
    compose_project: tuple[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`up -d` is the compose CLI, the observation and stop the SDK: READY needs both."""
    testbed = os.environ["DOCKER_HOST"]
    setting = testbed
    if named_by == "context":
        config = tmp_path / "docker-config"
        plugins = Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker")) / "cli-plugins"
        config.mkdir()
        (config / "cli-plugins").symlink_to(plugins)  # compose is a CLI plugin found here
        subprocess.run(
            ["docker", "context", "create", "testbed", "--docker", f"host={testbed}"],
            env={"DOCKER_CONFIG": str(config), "PATH": os.environ["PATH"]},
            check=True,
            capture_output=True,
        )
        monkeypatch.setenv("DOCKER_CONFIG", str(config))
        setting = "testbed"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing-here.sock")
    built = make_engine(docker_host=setting)
    try:
        outcome = await built.switcher.request("tiny")
        assert outcome.result == Result.READY, outcome.message
        assert running_profiles(engine, compose_project[0]) == ["tiny"]
        await built.switcher.request(None)
        assert running_profiles(engine, compose_project[0]) == []
    finally:
        await built.switcher.aclose()
