"""The unit's ExecStart=, run by hand as systemd would run it, really serves.

No systemd manager runs here (it is not PID 1), so the test plays its part: it reads the
command line, folder and environment out of the rendered unit (``exec_argv``: shlex once
``$$`` and ``%%`` are undone, which is how systemd reads the words llamadash writes; shlex
differs from systemd only in what llamadash never writes — C escapes, specifiers, ``$VAR``),
adds what systemd gives every user unit (HOME, USER), and starts it: a real ``serve`` on the
process runtime with the tiny GGUF and a real llama-server, in a folder whose name holds a
space, ``%`` and ``$``.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from llamadash.core.http1 import LoopbackHttpError, request
from llamadash.core.service_unit import exec_argv
from tests.e2e.conftest import write_conf
from tests.e2e.test_cli_verbs import another_free_port

pytestmark = pytest.mark.llama
T = TypeVar("T")


def unit_value(unit: str, key: str) -> str:
    """The one ``key=`` line's value, its specifiers undone."""
    (line,) = [x for x in unit.splitlines() if x.startswith(f"{key}=")]
    return line.removeprefix(f"{key}=").replace("%%", "%")


def unit_environment(unit: str) -> dict[str, str]:
    """Every Environment= assignment (``$`` is literal there: only ``%%`` is undone)."""
    found: dict[str, str] = {}
    for line in unit.splitlines():
        if line.startswith("Environment="):
            for word in shlex.split(line.removeprefix("Environment=").replace("%%", "%")):
                name, _, value = word.partition("=")
                found[name] = value
    return found


def wait_until(
    check: Callable[[], T | None], what: str, serve: subprocess.Popen[bytes], log: Path
) -> T:
    """Poll ``check()`` until it returns something; fail if ``serve`` exits first."""
    within = 60
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert serve.poll() is None, f"serve exited {serve.returncode}: {log.read_text()}"
        found = check()
        if found is not None:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what} within {within} s: {log.read_text()}")


def get(port: int, path: str) -> tuple[int, bytes] | None:
    try:
        reply = request("127.0.0.1", port, "GET", path, timeout=2)
    except LoopbackHttpError:
        return None
    return reply.status, reply.body


def test_the_units_command_serves_the_profile_and_ends_cleanly_on_sigterm(
    tmp_path: Path, tiny_gguf: Path, llama_server_bin: Path, free_port: int
) -> None:
    folder = tmp_path / "my project 100% $HOME"
    folder.mkdir()
    api_port = another_free_port()
    conf = write_conf(
        folder / "models.conf",
        models_dir=tiny_gguf.parent,
        port=free_port,
        project=f"svc-{uuid.uuid4().hex[:8]}",
        project_dir=folder,
        state_dir=tmp_path / "state",
        runtime="process",
        api_port=api_port,
    )
    shell = {**os.environ, "LLAMA_SERVER": str(llama_server_bin)}
    shell.pop("DBUS_SESSION_BUS_ADDRESS", None)
    shell |= {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_RUNTIME_DIR": str(tmp_path)}
    cli = [sys.executable, "-m", "llamadash", "--models-conf", str(conf)]

    def service(*argv: str) -> str:
        done = subprocess.run(
            [*cli, "service", *argv],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=shell,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    service("install", "--profile", "tin")
    unit = (tmp_path / "config" / "systemd" / "user" / "llamadash.service").read_text()
    argv = exec_argv(unit)
    assert argv is not None and argv[argv.index("--models-conf") + 1] == str(conf)
    environment = unit_environment(unit)
    assert environment["LLAMA_SERVER"] == str(llama_server_bin)
    assert Path(unit_value(unit, "WorkingDirectory")) == folder
    systemd_adds = {"HOME": str(Path.home()), "USER": os.environ.get("USER", "root")}

    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        serve = subprocess.Popen(
            list(argv),
            cwd=folder,
            env={**environment, **systemd_adds},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:

        def ready() -> dict[str, object] | None:
            answer = get(api_port, "/status")
            data = json.loads(answer[1]) if answer and answer[0] == 200 else {}
            return data if data.get("state") == "ready" else None

        status = wait_until(ready, "the profile was not ready", serve, log)
        assert status["profile_id"] == "tiny"
        seen = json.loads(service("status", "--json"))
        assert (seen["installed"], seen["current"]) == (True, True)
        assert seen["owner"]["pid"] == serve.pid
        assert (seen["owner"]["state"], seen["owner"]["profile"]) == ("ready", "tiny")
        health = get(free_port, "/health")  # llama-server itself, on the profile's port
        assert health is not None and health[0] == 200, health
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(30) == 0, log.read_text()
        assert get(api_port, "/status") is None  # the API is gone with it
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait(10)
        # serve leaves llama-server running (by design): stop it with the CLI, locally.
        subprocess.run([*cli, "stop"], capture_output=True, timeout=60, check=False, env=shell)
    assert get(free_port, "/health") is None
