"""The real ``llamadash`` command in a subprocess: forwarding to a running owner, local runs.

The owner is a real ``llamadash serve`` on free loopback ports with the process runtime and
the tiny GGUF. Each CLI run records its imports (PYTHONPROFILEIMPORTTIME, the env form of
``-X importtime``), so the tests see what the forwarding path really loads.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from llamadash.core.http1 import LoopbackHttpError, request
from tests.e2e.conftest import write_conf

LLAMADASH = Path(sys.executable).with_name("llamadash")
# What forwarding to the owner has no use for (asyncio: one blocking request needs no loop).
HEAVY = ("httpx", "textual", "docker", "psutil", "starlette", "uvicorn", "asyncio")


@dataclass
class Ran:
    """One CLI run: exit code, output, and the top-level packages it imported."""

    returncode: int
    stdout: str
    stderr: str
    imported: set[str] = field(repr=False)

    def heavy(self) -> list[str]:
        return sorted(name for name in self.imported if name in HEAVY)


def run_cli(conf: Path, *argv: str, env: dict[str, str] | None = None) -> Ran:
    done = subprocess.run(
        [str(LLAMADASH), "--models-conf", str(conf), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {}), "PYTHONPROFILEIMPORTTIME": "1"},
    )
    imported, stderr = set(), []
    for line in done.stderr.splitlines():
        if line.startswith("import time:"):
            imported.add(line.rsplit("|", 1)[1].strip().split(".")[0])
        else:
            stderr.append(line)
    return Ran(done.returncode, done.stdout, "\n".join(stderr), imported)


def another_free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_conf(folder: Path, models_dir: Path, port: int, prefix: str = "cli") -> Path:
    """A process-runtime models.conf on ``port`` and a free API port, its state in ``folder``."""
    return write_conf(
        folder / "models.conf",
        models_dir=models_dir,
        port=port,
        project=f"{prefix}-{uuid.uuid4().hex[:8]}",
        project_dir=folder,
        state_dir=folder / "state",
        runtime="process",
        api_port=another_free_port(),
    )


@pytest.fixture
def conf(tmp_path: Path, tiny_gguf: Path, free_port: int) -> Path:
    """A process-runtime models.conf on free ports, its state under tmp_path."""
    return process_conf(tmp_path, tiny_gguf.parent, free_port)


@contextmanager
def running_owner(conf: Path, env: dict[str, str]) -> Iterator[str]:
    """``llamadash serve`` on ``conf``; yields its API URL once it holds the lock and answers."""
    log = conf.with_name("serve.log")
    with log.open("wb") as out:
        serve = subprocess.Popen(
            [str(LLAMADASH), "--models-conf", str(conf), "serve"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )
    try:
        yield _wait_listening(conf, serve, log)
    finally:
        serve.terminate()
        serve.wait(30)
        # serve leaves llama-server running (by design): stop it with the CLI, locally.
        run_cli(conf, "stop", env=env)


def _wait_listening(conf: Path, serve: subprocess.Popen[bytes], log: Path) -> str:
    # serve takes the owner lock before it listens, so an answer means the lock is held.
    port = int(_setting(conf, "api_port"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert serve.poll() is None, log.read_text()
        try:
            if request("127.0.0.1", port, "GET", "/healthz", timeout=2).status == 200:
                return f"http://127.0.0.1:{port}"
        except LoopbackHttpError:
            time.sleep(0.05)
    raise AssertionError(f"serve never listened: {log.read_text()}")


def _setting(conf: Path, name: str) -> str:
    line = next(x for x in conf.read_text().splitlines() if x.startswith(f"{name} ="))
    return line.split("=", 1)[1].strip()


def test_forwarded_status_models_and_stop_load_only_the_light_path(conf: Path) -> None:
    with running_owner(conf, {}) as api:
        status = run_cli(conf, "status", "--json")
        models = run_cli(conf, "models", "--json")
        stop = run_cli(conf, "stop")
        human = run_cli(conf, "status")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["state"] == "idle"
    assert status.heavy() == [], status.heavy()
    assert models.returncode == 0 and models.heavy() == [], (models.stderr, models.heavy())
    assert [m["id"] for m in json.loads(models.stdout)][:2] == ["tiny", "gemma"]
    assert stop.returncode == 0 and stop.heavy() == [], (stop.stderr, stop.heavy())
    assert f"forwarding to the running llamadash at {api}" in stop.stderr
    assert stop.stdout.strip() == "already stopped"
    assert human.stdout.startswith("state:     idle") and human.heavy() == []


@pytest.mark.llama
def test_a_forwarded_switch_waits_for_ready_and_loads_only_the_light_path(
    conf: Path, llama_server_bin: Path
) -> None:
    env = {"LLAMA_SERVER": str(llama_server_bin)}
    with running_owner(conf, env):
        switched = run_cli(conf, "switch", "Tiny", env=env)
        status = run_cli(conf, "status", "--json", env=env)
        models = run_cli(conf, "models", "--json", env=env)
        stopped = run_cli(conf, "stop", "--json", env=env)
    assert switched.returncode == 0, switched.stderr
    assert switched.heavy() == [], switched.heavy()
    now = json.loads(status.stdout)
    assert (now["state"], now["profile_id"]) == ("ready", "tiny")
    assert status.heavy() == [], status.heavy()
    assert {m["id"]: m["current"] for m in json.loads(models.stdout)}["tiny"] is True
    assert stopped.returncode == 0 and stopped.heavy() == []
    assert json.loads(stopped.stdout)["outcome"]["result"] == "stopped"


def test_without_an_owner_status_and_stop_run_locally(conf: Path) -> None:
    status = run_cli(conf, "status", "--json")
    stop = run_cli(conf, "stop")
    assert status.returncode == 0 and json.loads(status.stdout)["state"] == "idle"
    assert stop.returncode == 0 and stop.stdout.strip() == "already stopped"
    assert "forwarding" not in stop.stderr


@pytest.mark.llama
def test_stop_prints_only_what_the_stop_does(conf: Path, llama_server_bin: Path) -> None:
    # Regression: the CLI adopts the running server first and printed that as progress,
    # "ready: Tiny random llama (adopted a running server)" before "stopping…".
    env = {"LLAMA_SERVER": str(llama_server_bin)}
    started = run_cli(conf, "switch", "tiny", env=env)
    assert started.returncode == 0, started.stderr
    stop = run_cli(conf, "stop", env=env)
    assert stop.returncode == 0, stop.stderr
    assert stop.stderr.splitlines() == ["stopping…", "stopped"]
    assert stop.stdout.strip() == "stopped"


@pytest.mark.engine
def test_dry_run_with_a_value_env_cannot_hold_is_a_clear_error(
    engine: object, compose_project: tuple[str, Path], tiny_gguf: Path, free_port: int
) -> None:
    # Regression: `switch X --dry-run` on the compose runtime ended in a traceback.
    project, project_dir = compose_project
    conf = write_conf(
        project_dir / "models.conf",
        models_dir=tiny_gguf.parent,
        port=free_port,
        project=project,
        project_dir=project_dir,
        state_dir=project_dir / "state",
    )
    with conf.open("a") as handle:
        handle.write('\n[quoted]\nmodel = tiny.gguf\nextra = --chat-template "it\'s"\n')
    ran = run_cli(conf, "switch", "quoted", "--dry-run")
    assert ran.returncode == 2, ran
    assert "Traceback" not in ran.stderr
    assert ran.stderr.splitlines() == [
        "error: profile quoted cannot run on the compose runtime: LLAMA_ARGS: value contains a"
        ' single quote, which .env cannot carry: "it\'s" (change it in models.conf, or use'
        " --runtime process)"
    ]
    assert not (project_dir / ".env").exists()
