"""The process runtime: llama-server as a child process, with a real binary and real GGUFs."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import httpx
import pytest

from llamadash.core.context import Engine, build_engine
from llamadash.core.events import Result, State
from llamadash.core.runtime.base import RuntimeFailure
from llamadash.core.runtime.binary import find_llama_server
from tests.support.busy import generate_until_busy

pytestmark = pytest.mark.llama


async def test_switch_between_profiles_as_child_processes(engine_p: Engine) -> None:
    assert engine_p.runtime.name == "process"
    for target in ("tiny", "gemma", "tiny"):
        outcome = await engine_p.switcher.request(target)
        assert outcome.result == Result.READY, outcome
        status = await engine_p.switcher.status()
        assert (status.state, status.profile_id) == (State.READY, target)
        profile = engine_p.profiles.get(target)
        assert profile is not None
        assert status.args == engine_p.runtime.command(engine_p.switcher.launch_spec(profile))
        cmdline = Path(f"/proc/{status.container}/cmdline").read_bytes().split(b"\0")
        assert [a.decode() for a in cmdline[1:-1]] == list(status.args)
    completion = httpx.post(
        f"{engine_p.switcher.endpoint}/completion",
        json={"prompt": "hi", "n_predict": 4},
        timeout=30,
    )
    assert completion.status_code == 200
    assert (
        sum(line.startswith("--- switching to") for line in engine_p.switcher.logs.snapshot()) == 3
    )


async def test_server_child_gets_no_secret_of_ours(
    engine_p: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression: the child inherited our whole environment, the side API's token included.
    secrets = {
        "LLAMADASH_API_TOKEN": "side-api-secret",
        "HF_TOKEN": "hf_secret",
        "LLAMA_API_KEY": "would-lock-llamadash-out",
    }
    for name, value in {**secrets, "GGML_LLAMADASH_PROBE": "1", "LC_ALL": "C.UTF-8"}.items():
        monkeypatch.setenv(name, value)
    assert (await engine_p.switcher.request("tiny")).result == Result.READY
    pid = (await engine_p.switcher.status()).container
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    child = dict(item.decode().split("=", 1) for item in raw if item)
    assert not set(secrets) & set(child), sorted(set(secrets) & set(child))
    assert all(value not in child.values() for value in secrets.values())
    for name in ("PATH", "HOME", "GGML_LLAMADASH_PROBE", "LC_ALL"):
        assert child[name] == os.environ[name]
    # LLAMA_API_KEY did not reach it: /slots (not public like /health) answers without a key.
    slots = httpx.get(f"{engine_p.switcher.endpoint}/slots", timeout=10)
    assert slots.status_code == 200, slots.text


async def test_a_profiles_gpus_are_the_devices_the_child_sees(engine_p: Engine) -> None:
    conf = engine_p.profiles.path
    conf.write_text(conf.read_text() + "\n[tiny-gpu1]\nmodel = tiny.gguf\nctx = 256\ngpus = 1\n")
    engine = build_engine(conf)
    try:
        assert (await engine.switcher.request("tiny-gpu1")).result == Result.READY
        pid = (await engine.switcher.status()).container
        raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        child = dict(item.decode().split("=", 1) for item in raw if item)
        assert child["CUDA_VISIBLE_DEVICES"] == "1"
        assert (await engine.switcher.request("tiny")).result == Result.READY
        pid = (await engine.switcher.status()).container
        raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert not any(item.startswith(b"CUDA_VISIBLE_DEVICES=") for item in raw)
    finally:
        await engine.switcher.request(None)
        await engine.switcher.aclose()


async def test_a_second_llamadash_sees_the_server(engine_p: Engine) -> None:
    assert (await engine_p.switcher.request("tiny")).result == Result.READY
    other = build_engine(engine_p.profiles.path)
    try:
        status = await other.switcher.adopt()
        assert (status.state, status.profile_id) == (State.READY, "tiny")
        # It can stop a server that is not its child, and reaps nothing it does not own.
        assert (await other.switcher.request(None)).result == Result.STOPPED
    finally:
        await other.switcher.aclose()
    assert (await engine_p.switcher.status()).state == State.IDLE


async def test_crash_while_loading_reports_exit_code_and_log_tail(engine_p: Engine) -> None:
    outcome = await engine_p.switcher.request("corrupt")
    assert outcome.result == Result.FAILED
    assert "exited with code 1" in outcome.message
    assert any("gguf" in line.lower() for line in outcome.log_tail)
    assert (await engine_p.switcher.request("tiny")).result == Result.READY


async def test_busy_port_is_refused_with_a_clear_message(engine_p: Engine) -> None:
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", engine_p.settings.port))
        squatter.listen()
        outcome = await engine_p.switcher.request("tiny")
    assert outcome.result == Result.FAILED
    assert f"port {engine_p.settings.port}" in outcome.message and "in use" in outcome.message


async def test_busy_server_stops_without_sigkill(engine_p: Engine) -> None:
    assert (await engine_p.switcher.request("gemma")).result == Result.READY
    worker = await asyncio.to_thread(generate_until_busy, engine_p.switcher.endpoint)
    assert (await engine_p.switcher.request("tiny")).result == Result.READY
    assert engine_p.runtime.last_stop in ("SIGTERM", "SIGTERM x2")
    worker.join(timeout=10)


async def test_idle_servers_get_one_sigterm(engine_p: Engine) -> None:
    """Issue #18: a second SIGTERM landing while an idle server exits could hang it until
    the SIGKILL (2 idle switches in 7 took 3.3 s): an idle server gets one SIGTERM."""
    for target in ["tiny", "gemma"] * 15 + ["tiny"]:
        assert (await engine_p.switcher.request(target)).result == Result.READY
        stopped = engine_p.runtime.last_stop  # type: ignore[attr-defined]
        assert stopped in ("", "SIGTERM"), f"switch to {target} needed {stopped}"


def test_missing_binary_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("LLAMA_SERVER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("LLAMADASH_CACHE", str(tmp_path / "cache"))
    with pytest.raises(RuntimeFailure, match=r"LLAMA_SERVER=.*build-llama-server\.sh"):
        find_llama_server("")
