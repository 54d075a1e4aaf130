"""start.sh driven as a new user would: clean HOME, non-interactive, real server and engine."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO, missing
from tests.e2e.conftest import write_conf

VENV = Path(sys.executable).parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def user_env(tmp_path: Path, llama_server_bin: Path) -> dict[str, str]:
    """A clean HOME (fresh XDG state), the repo's venv, the test engine, a known binary."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLAMADASH_", "XDG_"))}
    env.update(
        HOME=str(home),
        LLAMADASH_VENV=str(VENV),
        LLAMA_SERVER=str(llama_server_bin),
        PYTHONUNBUFFERED="1",
    )
    # Compose needs its CLI plugin; a clean HOME has none, so point DOCKER_CONFIG at the real one.
    env.setdefault("DOCKER_CONFIG", str(Path.home() / ".docker"))
    return env


def conf_for(tmp_path: Path, models: Path, runtime: str, api_port: int, **extra: Any) -> Path:
    conf = write_conf(
        tmp_path / "models.conf",
        models_dir=models,
        port=free_port(),
        runtime=runtime,
        project=f"ldstart-{uuid.uuid4().hex[:8]}",
        project_dir=tmp_path,
        state_dir=None,  # the clean HOME's XDG state dir, as a new user has
        image=extra.get("image", ""),
        api_port=api_port,
    )
    return conf


@pytest.fixture
def started() -> Iterator[list[tuple[subprocess.Popen[str], list[str], dict[str, str]]]]:
    """start.sh processes to end, and the servers they left, after the test."""
    procs: list[tuple[subprocess.Popen[str], list[str], dict[str, str]]] = []
    yield procs
    for proc, stop_cmd, env in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
        subprocess.run(stop_cmd, env=env, capture_output=True, timeout=60, check=False)


def run_headless(
    conf: Path, env: dict[str, str], profile: str, runtime: str, started: list[Any]
) -> subprocess.Popen[str]:
    cmd = [
        str(REPO / "start.sh"),
        "--headless",
        "--runtime",
        runtime,
        "--models-conf",
        str(conf),
        profile,
    ]
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stop = [
        str(VENV / "bin" / "llamadash"),
        "stop",
        "--models-conf",
        str(conf),
        "--runtime",
        runtime,
    ]
    started.append((proc, stop, env))
    return proc


def wait_api_ready(api: str, proc: subprocess.Popen[str], timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"start.sh exited {proc.returncode}: {proc.stdout.read()}")  # type: ignore[union-attr]
        try:
            status = httpx.get(f"{api}/status", timeout=2).json()
            if status["state"] == "ready":
                return dict(status)
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError("the API never reported ready")


@pytest.mark.llama
def test_headless_process_runtime_answers_a_completion(
    tmp_path: Path, all_models: Path, user_env: dict[str, str], started: list[Any]
) -> None:
    api_port = free_port()
    conf = conf_for(tmp_path, all_models, "process", api_port)
    proc = run_headless(conf, user_env, "gemma", "process", started)
    status = wait_api_ready(f"http://127.0.0.1:{api_port}", proc)
    assert status["profile_id"] == "gemma" and status["runtime"] == "process"
    reply = httpx.post(
        f"{status['endpoint']}/completion",
        json={"prompt": "The capital of France is", "n_predict": 8},
        timeout=60,
    )
    assert reply.status_code == 200 and reply.json()["content"]
    # State lives in the clean HOME's XDG dir, so a second llamadash sees the server.
    assert (Path(user_env["HOME"]) / ".local" / "state" / "llamadash" / "process").is_dir()


@pytest.mark.engine
def test_headless_compose_runtime_on_the_test_engine(
    tmp_path: Path,
    all_models: Path,
    user_env: dict[str, str],
    llama_image: str,
    started: list[Any],
) -> None:
    api_port = free_port()
    conf = conf_for(tmp_path, all_models, "compose", api_port, image=llama_image)
    proc = run_headless(conf, user_env, "1", "compose", started)
    status = wait_api_ready(f"http://127.0.0.1:{api_port}", proc)
    assert status["profile_id"] == "tiny" and status["runtime"] == "compose"
    assert (tmp_path / ".env").read_text().count("LLAMADASH_PROFILE='tiny'") == 1


def run_start(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "start.sh"), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_help_and_unknown_option(user_env: dict[str, str]) -> None:
    assert "--headless" in run_start(["--help"], user_env).stdout
    bad = run_start(["--bogus"], user_env)
    assert bad.returncode == 2 and "unknown option --bogus" in bad.stderr


@pytest.mark.llama
def test_missing_model_file_is_named(
    tmp_path: Path, all_models: Path, user_env: dict[str, str]
) -> None:
    conf = conf_for(tmp_path, all_models, "process", free_port())
    conf.write_text(conf.read_text() + "\n[ghost]\nmodel = ghost.gguf\n")
    done = run_start(
        ["--headless", "--runtime", "process", "--models-conf", str(conf), "ghost"], user_env
    )
    assert done.returncode == 1
    assert "FAIL model of ghost" in done.stdout and "ghost.gguf" in done.stdout
    assert "[3/5] checking profile ghost" in done.stderr, done.stderr
    assert "fix the FAIL lines above" in done.stderr


@pytest.mark.llama
def test_missing_engine_is_explained(
    tmp_path: Path, all_models: Path, user_env: dict[str, str]
) -> None:
    conf = conf_for(tmp_path, all_models, "compose", free_port())
    env = {**user_env, "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    done = run_start(["--runtime", "compose", "--models-conf", str(conf), "tiny"], env)
    assert done.returncode == 1
    assert "FAIL docker engine" in done.stdout and "--runtime process" in done.stdout


def test_bad_llama_server_path_is_explained(
    tmp_path: Path, all_models: Path, user_env: dict[str, str]
) -> None:
    conf = conf_for(tmp_path, all_models, "process", free_port())
    env = {**user_env, "LLAMA_SERVER": str(tmp_path / "nope")}
    done = run_start(["--runtime", "process", "--models-conf", str(conf), "tiny"], env)
    assert done.returncode == 1 and f"LLAMA_SERVER={tmp_path / 'nope'}" in done.stderr
    # Regression: nothing was printed before the first check; each phase now says what it
    # waits for and how long that usually takes, before it starts.
    first = done.stderr.splitlines()[0]
    assert "[2/5] checking this machine" in first and "a few seconds" in first, done.stderr


@pytest.mark.engine
def test_dashboard_started_by_start_sh_shows_ready_in_tmux(
    tmp_path: Path,
    all_models: Path,
    user_env: dict[str, str],
    llama_image: str,
    started: list[Any],
) -> None:
    if shutil.which("tmux") is None:
        missing("tmux", "apt-get install tmux")
    conf = conf_for(tmp_path, all_models, "compose", free_port(), image=llama_image)
    session = f"ldstart-{uuid.uuid4().hex[:6]}"
    env_args = [
        a
        for k, v in user_env.items()
        if k in ("HOME", "LLAMADASH_VENV", "LLAMA_SERVER", "DOCKER_HOST", "DOCKER_CONFIG", "PATH")
        for a in ("-e", f"{k}={v}")
    ]
    script = f"{REPO / 'start.sh'} --runtime compose --models-conf {conf} tiny"
    subprocess.run(
        ["tmux", "new-session", "-d", "-x", "160", "-y", "48", "-s", session, *env_args, script],
        check=True,
        env=user_env,
    )
    stop = [str(VENV / "bin" / "llamadash"), "stop", "--models-conf", str(conf)]
    try:
        screen = ""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            screen = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            if "Ready: Tiny random llama" in screen and "Models" in screen:
                break
            time.sleep(0.5)
        assert "Ready: Tiny random llama" in screen, screen
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=False)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)
        subprocess.run(stop, env=user_env, capture_output=True, timeout=60, check=False)
