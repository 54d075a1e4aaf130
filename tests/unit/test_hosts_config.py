"""[host NAME] sections and a profile's host: parsed with file:line errors, one pool per host."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from llamadash.commands.ps_table import table
from llamadash.core.context import build_engine
from llamadash.core.hostnames import DEFAULT_HOST
from llamadash.core.hosts import HostedPool, describe_hosts
from llamadash.core.inifile import ConfigError
from llamadash.core.profiles import parse_profiles

CONF = """\
[llamadash]
runtime = process
state_dir = {state}
port = 18080

[host gpu2]
docker_host = unix://{tmp}/gpu2.sock
port = 18090
port_range = 18091-18099
max_instances = 3
models_dir = gpu2-models

[tiny]
model = tiny.gguf

[far]
model = tiny.gguf
host = gpu2
"""


def write(tmp_path: Path, text: str = CONF) -> Path:
    conf = tmp_path / "models.conf"
    conf.write_text(text.format(state=tmp_path / "state", tmp=tmp_path))
    return conf


def test_a_profile_names_its_host_and_an_unknown_one_is_its_line(tmp_path: Path) -> None:
    profiles = parse_profiles(write(tmp_path).read_text())
    assert [p.host for p in profiles.profiles] == [DEFAULT_HOST, "gpu2"]
    bad = CONF.replace("host = gpu2", "host = gpu3")
    with pytest.raises(
        ConfigError, match=r"^models.conf:18: key 'host': no \[host gpu3\] \(known: local, gpu2\)"
    ):
        parse_profiles(bad.format(state="s", tmp="t"))


@pytest.mark.parametrize(
    ("edit", "line", "message"),
    [
        (("max_instances = 3", "max_instance = 3"), 10, "key 'max_instance': unknown host key"),
        (("max_instances = 3", "max_instances = many"), 10, "key 'max_instances': bad value"),
        (("docker_host = unix://{tmp}/gpu2.sock", "address = 10.0.0.2"), 6, "needs docker_host"),
        (("unix://{tmp}/gpu2.sock", "gpu2-context"), 6, "needs address"),
        (("[host gpu2]", "[host GPU 2]"), 6, "bad host name 'GPU 2'"),
    ],
)
def test_a_bad_host_section_names_its_file_and_line(
    tmp_path: Path, edit: tuple[str, str], line: int, message: str
) -> None:
    conf = write(tmp_path, CONF.replace(*edit))
    with pytest.raises(ConfigError) as caught:
        build_engine(conf)
    assert str(caught.value).startswith(f"{conf}:{line}:")
    assert message in str(caught.value)


def test_no_host_section_builds_the_engine_as_before(tmp_path: Path) -> None:
    text = CONF.partition("[host gpu2]")[0] + "[tiny]\nmodel = tiny.gguf\n"
    engine = build_engine(write(tmp_path, text))
    assert type(engine.pool).__name__ == "Pool" and engine.hosts == {}
    assert engine.pool_for("tiny") is engine.pool


async def test_each_host_has_its_pool_limits_and_address(tmp_path: Path) -> None:
    engine = build_engine(write(tmp_path))
    assert isinstance(engine.pool, HostedPool)
    host = engine.hosts["gpu2"]
    assert engine.pool_for("far") is host.pool and engine.pool_for("tiny") is engine.pool
    assert host.settings.project_name == "llamadash_gpu2"
    assert (host.settings.port, host.settings.max_instances) == (18090, 3)
    assert host.settings.ports == range(18091, 18100)
    assert host.settings.models_dir == tmp_path / "gpu2-models"
    assert host.address == "127.0.0.1"  # a unix socket: the engine is on this machine
    assert host.pool.foreground.endpoint == "http://127.0.0.1:18090"
    assert engine.settings.max_instances == 1  # the local host keeps its own


async def test_a_host_whose_engine_is_missing_is_reported_and_blocks_nothing(
    tmp_path: Path,
) -> None:
    """No dockerd at its socket: the look fails at once, the local host is described."""
    engine = build_engine(write(tmp_path))
    began = time.time()
    infos, hosts = await describe_hosts(engine.pool, engine.hosts)
    assert infos == ()  # nothing runs locally (the process runtime here)
    (gpu2,) = hosts
    assert not gpu2.reachable and gpu2.checked_at >= began
    assert gpu2.error is not None and f"unix://{tmp_path}/gpu2.sock" in gpu2.error
    shown = table([], [gpu2.to_dict()])
    assert f"host gpu2 (unix://{tmp_path}/gpu2.sock) unreachable at " in shown
    await engine.pool.aclose()
