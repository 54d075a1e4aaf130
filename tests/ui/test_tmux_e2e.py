"""One end-to-end run of the real ``llamadash`` command in a real terminal (tmux).

The dashboard draws on stderr: stderr stays the terminal. A private tmux server (``-S``) so the
session gets this test's environment (DOCKER_HOST) and never touches the user's tmux.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from llamadash.ui.driver import ACTIVE_FOR_S, IDLE_POLL_S
from tests.conftest import missing
from tests.e2e.conftest import write_conf
from tests.support.tmux import Tmux

pytestmark = pytest.mark.engine

LLAMADASH = Path(sys.executable).with_name("llamadash")


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        missing("tmux", "apt-get install tmux")
    session = Tmux(f"ldui-{uuid.uuid4().hex[:8]}", tmp_path / "tmux.sock")
    yield session
    session.kill()


# Syscalls an input thread blocked in select() sits in: select and pselect6 (x86_64), pselect6
# (aarch64); the dashboard's other threads wait in epoll_wait, futexes or socket reads.
_SELECT_SYSCALLS = {"x86_64": {23, 270}, "aarch64": {72}}


def input_waiter(tmux: Tmux) -> tuple[int, int]:
    """(pid, tid) of the dashboard's input thread: the one thread blocked in select()."""
    numbers = _SELECT_SYSCALLS.get(os.uname().machine)
    if numbers is None:
        missing(f"select() syscall numbers for {os.uname().machine}", "add them to SELECT_SYSCALLS")
    shell = int(tmux.run("display-message", "-p", "-t", tmux.session, "#{pane_pid}").stdout)
    (dash,) = psutil.Process(shell).children()
    for thread in dash.threads():
        syscall = Path(f"/proc/{dash.pid}/task/{thread.id}/syscall").read_text().split()
        if syscall[0].isdigit() and int(syscall[0]) in numbers:
            return dash.pid, thread.id
    raise AssertionError("no dashboard thread is waiting in select()")


def wakeups(thread: tuple[int, int]) -> int:
    """How often the thread has gone to sleep voluntarily (once per wake-up)."""
    status = Path(f"/proc/{thread[0]}/task/{thread[1]}/status").read_text()
    return int(status.split("voluntary_ctxt_switches:")[1].split()[0])


def test_dashboard_in_a_real_terminal(
    tmux: Tmux,
    all_models: Path,
    llama_image: str,
    free_port: int,
    compose_project: tuple[str, Path],
    tmp_path: Path,
) -> None:
    project, project_dir = compose_project
    api_port = free_tcp_port()
    conf = write_conf(
        tmp_path / "models.conf",
        models_dir=all_models,
        port=free_port,
        project=project,
        project_dir=project_dir,
        state_dir=tmp_path / "state",
        image=llama_image,
        api_port=api_port,
    )
    assert LLAMADASH.is_file(), LLAMADASH

    # The shell reports the exit code itself: tmux sometimes leaves the exited dashboard a
    # zombie for a long while here (pane_dead_status stays empty), so do not wait on tmux.
    command = f"{LLAMADASH} --models-conf {conf}; echo EXIT=$?"
    docker_host = os.environ["DOCKER_HOST"]
    tmux.run(
        "new-session", "-d", "-x", "160", "-y", "48", "-s", tmux.session,
        "-e", f"DOCKER_HOST={docker_host}", "-e", "TERM=xterm-256color", command,
    )  # fmt: skip
    # Keep the pane after exit: its last screen is checked below.
    tmux.run("set-option", "-t", tmux.session, "remain-on-exit", "on")

    screen = tmux.wait_for(lambda s: "Stop+Quit" in s and "Idle:" in s, 30, "footer and header")
    assert "Idle: no model running (press m)" in screen
    assert f"api http://127.0.0.1:{api_port}" in screen

    tmux.keys("m")
    # The title and the rows can reach the terminal in separate writes: wait for both.
    screen = tmux.wait_for(
        lambda s: "Switch model" in s and "Tiny random llama" in s, 10, "the picker"
    )
    assert "Gemma 3 270M" in screen
    tmux.keys("1")
    screen = tmux.wait_for(lambda s: "Ready: " in s, 60, "Ready: ")
    assert "Ready: Tiny random llama" in screen

    # The side API, started by the dashboard, agrees.
    status = httpx.get(f"http://127.0.0.1:{api_port}/status", timeout=5).json()
    assert (status["state"], status["profile_id"]) == ("ready", "tiny")

    # The quiet input driver: idle, its thread wakes about once a second (Textual's: 10)...
    dashboard = input_waiter(tmux)
    time.sleep(ACTIVE_FOR_S + 0.5)
    before = wakeups(dashboard)
    time.sleep(4.0)
    assert wakeups(dashboard) - before <= 4 * 2 / IDLE_POLL_S, "the input thread polls fast"
    # ...yet a lone Escape after a quiet spell is still a key at once, not after the next key.
    tmux.keys("m")
    tmux.wait_for(lambda s: "Switch model" in s, 10, "the picker")
    time.sleep(ACTIVE_FOR_S + 0.5)
    tmux.keys("Escape")
    tmux.wait_for(lambda s: "Switch model" not in s, 1.5, "Escape to close the picker")

    time.sleep(ACTIVE_FOR_S + 0.5)
    tmux.keys("q")
    after = tmux.wait_for(lambda s: "EXIT=" in s, 20, "llamadash to quit", history=True)
    assert "EXIT=0" in after, after
    assert "Traceback" not in after, after
    assert "llama-server keeps running (Tiny random llama)" in after, after
    # q keeps the server: it still answers after the dashboard is gone.
    health = httpx.get(f"http://127.0.0.1:{free_port}/health", timeout=5)
    assert health.status_code == 200

    # The command the quit message names stops it, typed as printed in the pane's directory
    # (the venv is not on PATH, and the config is not ./models.conf). -J: unwrap long lines.
    joined = tmux.run("capture-pane", "-p", "-J", "-S", "-", "-t", tmux.session).stdout
    (stop_line,) = [line for line in joined.splitlines() if "stop it with: " in line]
    stop = shlex.split(stop_line.split("stop it with: ", 1)[1])
    assert stop[1:] == ["stop", "--models-conf", str(conf)], stop
    done = subprocess.run(stop, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{free_port}/health", timeout=5)
