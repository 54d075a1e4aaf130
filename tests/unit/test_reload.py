"""models.conf reloads: a real Instance (process runtime, nothing started) over a real file."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from llamadash.core.context import Engine, build_engine
from llamadash.core.profiles import parse_profiles
from llamadash.core.reload import describe_changes

BASE = """\
[llamadash]
runtime = process
port = {port}
project_name = reload-unit
state_dir = {state}

[tiny]
name = Tiny
model = tiny.gguf
ctx = 256
"""


@pytest.fixture
def conf(tmp_path: Path, free_port: int) -> Path:
    path = tmp_path / "models.conf"
    path.write_text(BASE.format(port=free_port, state=tmp_path / "state"))
    return path


@pytest.fixture
async def engine(conf: Path) -> AsyncIterator[Engine]:
    built = build_engine(conf)
    yield built
    await built.watch.aclose()
    await built.switcher.aclose()


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


async def test_the_poll_picks_up_a_new_profile(engine: Engine, conf: Path) -> None:
    engine.watch.start(interval=0.1)
    append(conf, "\n[tiny2]\nmodel = tiny.gguf\n")
    await until(lambda: engine.profiles.get("tiny2") is not None)
    assert [p.id for p in engine.switcher.profiles.profiles] == ["tiny", "tiny2"]
    assert "models.conf reloaded: added tiny2" in "\n".join(engine.switcher.logs.snapshot())


async def test_a_bad_edit_keeps_the_profiles_and_says_where(engine: Engine, conf: Path) -> None:
    append(conf, "\n[tiny2]\nmodel = tiny.gguf\nctxx = 5\n")
    bad_line = len(conf.read_text().splitlines())
    assert await engine.watch.check()
    assert [p.id for p in engine.profiles.profiles] == ["tiny"]
    status = await engine.switcher.status()
    assert status.config_error is not None
    assert status.config_error.startswith(f"{conf}:{bad_line}: key 'ctxx'")
    assert any("keeping the previous profiles" in line for line in engine.switcher.logs.snapshot())
    # Fixed: the error goes, the new profile comes.
    conf.write_text(conf.read_text().replace("ctxx = 5", "ctx = 5"))
    assert await engine.watch.check()
    assert (await engine.switcher.status()).config_error is None
    assert engine.profiles.get("tiny2") is not None


async def test_an_unchanged_file_is_not_read_again(engine: Engine) -> None:
    before = engine.profiles
    assert not await engine.watch.check()
    assert engine.profiles is before


async def test_settings_are_kept_and_the_change_reported(engine: Engine, conf: Path) -> None:
    port = engine.settings.port
    conf.write_text(conf.read_text().replace(f"port = {port}", f"port = {port + 1}"))
    assert await engine.watch.check()
    assert engine.switcher.settings.port == port
    status = await engine.switcher.status()
    assert status.settings_changed == ("port",)
    assert engine.watch.health.settings_note == (
        "settings changed (port): restart llamadash to apply"
    )


def test_describe_changes_ignores_where_a_profile_is_written() -> None:
    old = parse_profiles("[a]\nmodel = a.gguf\n[b]\nmodel = b.gguf\n[c]\nmodel = c\n").profiles
    new = parse_profiles("\n\n[a]\nmodel = a.gguf\n[c]\nmodel = c\nctx = 9\n[d]\nmodel = d\n")
    assert describe_changes(old, new.profiles) == "added d; removed b; changed c"
