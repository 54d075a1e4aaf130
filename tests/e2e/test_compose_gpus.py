"""A profile's ``gpus`` on the compose runtime: compose itself renders the devices reserved.

No GPU here: what is checked is what ``docker compose config`` (the real CLI) makes of the
files llamadash hands it, the step before the NVIDIA runtime would see the reservation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llamadash.core.profiles import parse_profiles
from llamadash.core.runtime.base import LaunchSpec
from llamadash.core.runtime.compose import SERVICE, ComposeRuntime
from tests.conftest import REPO

pytestmark = pytest.mark.engine


def _rendered(runtime: ComposeRuntime, files: tuple[str, ...]) -> dict[str, Any]:
    out = runtime.compose("config", "--format", "json", files=files)
    service: dict[str, Any] = json.loads(out)["services"][SERVICE]
    return service


@pytest.mark.parametrize(("gpus", "expected"), [("1", ["1"]), ("0,GPU-4a5b", ["0", "GPU-4a5b"])])
def test_gpus_become_the_device_ids_compose_reserves(
    engine: Any, tmp_path: Path, gpus: str, expected: list[str]
) -> None:
    profile = parse_profiles(f"[a]\nmodel = a.gguf\ngpus = {gpus}\n").profiles[0]
    env_file = tmp_path / ".llamadash" / "ldtest-gpus-a.env"
    env_file.parent.mkdir()
    env_file.write_text("")
    runtime = ComposeRuntime(tmp_path, (str(REPO / "compose.yaml"),), "ldtest-gpus-a", env_file)
    files = runtime.files_for(LaunchSpec(profile, tmp_path, 8100))
    assert files[-1].endswith(".gpus.yaml") and files[:-1] == runtime.compose_files
    devices = _rendered(runtime, files)["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "device_ids": expected, "capabilities": ["gpu"]}]
    everything = _rendered(runtime, runtime.compose_files)["deploy"]["resources"]
    assert everything["reservations"]["devices"][0]["count"] == -1  # all, without gpus


def test_no_override_where_no_gpu_is_reserved(engine: Any, tmp_path: Path) -> None:
    profile = parse_profiles("[a]\nmodel = a.gguf\ngpus = 1\n").profiles[0]
    files = (str(REPO / "compose.yaml"), str(REPO / "compose.cpu.yaml"))
    runtime = ComposeRuntime(tmp_path, files, "ldtest-gpus-b", tmp_path / ".env")
    (tmp_path / ".env").write_text("")
    assert runtime.files_for(LaunchSpec(profile, tmp_path, 8100)) == files
