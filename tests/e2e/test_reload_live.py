"""models.conf edited under a running `llamadash serve` (process runtime, real llama-server).

The owner and every CLI call are separate processes, as a user runs them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.llama

CONF = """\
[llamadash]
models_dir = {models}
runtime = process
port = {port}
api_port = {api_port}
project_name = reload-{uid}
state_dir = {state}

[tiny]
name = Tiny random llama
model = tiny.gguf
ctx = 256
parallel = 1
ngl = 0
threads = 1
"""
TINY2 = "\n[tiny2]\nname = Second tiny\nmodel = tiny.gguf\nctx = 512\nparallel = 1\nngl = 0\n"
POLL_BOUND = 10.0  # the owner looks once a second; this leaves room for a busy machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Owner:
    conf: Path
    api: str
    env: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "llamadash.cli", *args, "--models-conf", str(self.conf)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def get(self, path: str) -> dict[str, Any]:
        reply = httpx.get(f"{self.api}{path}", timeout=10)
        assert reply.status_code == 200, reply.text
        data = reply.json()
        assert isinstance(data, dict)
        return data

    def until(self, path: str, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + POLL_BOUND
        data = self.get(path)
        while not predicate(data):
            assert time.monotonic() < deadline, f"{path} never matched; last: {data}"
            time.sleep(0.1)
            data = self.get(path)
        return data

    def edit(self, old: str, new: str) -> None:
        text = self.conf.read_text()
        assert old in text
        self.conf.write_text(text.replace(old, new))

    def append(self, text: str) -> None:
        self.conf.write_text(self.conf.read_text() + text)


@pytest.fixture
def owner(
    tmp_path: Path, models_dir: Path, tiny_gguf: Path, llama_server_bin: Path
) -> Iterator[Owner]:
    api_port = free_port()
    conf = tmp_path / "models.conf"
    conf.write_text(
        CONF.format(
            models=models_dir,
            port=free_port(),
            api_port=api_port,
            uid=uuid.uuid4().hex[:8],
            state=tmp_path / "state",
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLAMADASH_")}
    env.update(LLAMA_SERVER=str(llama_server_bin), PYTHONPATH=str(REPO))
    serve = subprocess.Popen(
        [sys.executable, "-m", "llamadash.cli", "serve", "--models-conf", str(conf)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    found = Owner(conf, f"http://127.0.0.1:{api_port}", env)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert serve.poll() is None, serve.stderr.read() if serve.stderr else ""
            try:
                if httpx.get(f"{found.api}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "llamadash serve never answered /healthz"
            time.sleep(0.1)
        yield found
    finally:
        found.cli("stop")
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)


def switched(owner: Owner, *args: str) -> dict[str, Any]:
    done = owner.cli("switch", *args)
    assert done.returncode == 0, done.stderr
    return owner.get("/status")


def test_a_new_profile_shows_in_models_without_a_restart(owner: Owner) -> None:
    owner.append(TINY2)
    models = owner.until("/models", lambda m: "tiny2" in [p["id"] for p in m["models"]])
    assert [p["id"] for p in models["models"]] == ["tiny", "tiny2"]
    assert models["config_error"] is None


def test_a_bad_edit_keeps_the_profiles_and_names_file_and_line(owner: Owner) -> None:
    owner.append(TINY2 + "ctxx = 5\n")
    bad_line = len(owner.conf.read_text().splitlines())
    status = owner.until("/status", lambda s: s["config_error"] is not None)
    assert status["config_error"].startswith(f"{owner.conf}:{bad_line}: key 'ctxx'")
    models = owner.get("/models")
    assert [p["id"] for p in models["models"]] == ["tiny"]  # the last good file's profiles
    assert models["config_error"] == status["config_error"]
    shown = owner.cli("status")  # forwarded to the owner; rc 0 although the file is broken
    assert shown.returncode == 0, shown.stderr
    assert f"config:    {owner.conf}:{bad_line}: key 'ctxx'" in shown.stdout


def test_a_forwarded_switch_to_a_new_profile_runs_that_profile(owner: Owner) -> None:
    assert switched(owner, "tiny")["profile_id"] == "tiny"
    # Straight after the edit: the owner may not have polled yet, and must not match
    # "tiny2" to "tiny" (which used to answer "already ready" on the wrong model).
    owner.append(TINY2)
    status = switched(owner, "tiny2")
    assert (status["state"], status["profile_id"]) == ("ready", "tiny2")
    assert status["args"][status["args"].index("--ctx-size") + 1] == "512"


def test_an_exact_id_is_never_matched_fuzzily(owner: Owner) -> None:
    reply = httpx.post(
        f"{owner.api}/switch", json={"model": "tin", "exact": True, "wait": False}, timeout=30
    )
    assert reply.status_code == 404, reply.text
    assert reply.json()["suggestions"] == [] and reply.json()["valid"] == ["tiny"]
    assert owner.get("/status")["state"] == "idle"


def test_changed_args_are_marked_restart_to_apply_and_not_restarted(owner: Owner) -> None:
    before = switched(owner, "tiny")
    assert before["restart_to_apply"] is False
    owner.edit("ctx = 256", "ctx = 512")
    status = owner.until("/status", lambda s: s["restart_to_apply"])
    assert (status["state"], status["container"]) == ("ready", before["container"])
    assert status["args"] == before["args"]  # still the old server, untouched
    tiny = next(p for p in owner.get("/models")["models"] if p["id"] == "tiny")
    assert tiny["restart_to_apply"] is True
    assert "restart to apply" in owner.cli("status").stdout


def test_restart_after_an_edit_uses_the_new_args(owner: Owner) -> None:
    before = switched(owner, "tiny")
    owner.edit("ctx = 256", "ctx = 512")
    status = switched(owner, "tiny", "--restart")
    assert status["container"] != before["container"]
    assert status["args"][status["args"].index("--ctx-size") + 1] == "512"
    assert status["restart_to_apply"] is False
    props = httpx.get(f"{status['endpoint']}/props", timeout=10).json()
    assert props["default_generation_settings"]["n_ctx"] == 512
