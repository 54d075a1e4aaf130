"""Attached dashboards: a real ``llamadash serve`` owner, dashboards that draw it from its API.

The owner runs the process runtime with the real llama-server and the tiny GGUF on free
loopback ports. The dashboard is :class:`AttachedDash` under Textual's Pilot (what it shows
is read from its widgets) or the real ``llamadash`` command in tmux (what a user sees).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from llamadash.core.http1 import LoopbackHttpError, request
from llamadash.remote.client import OwnerApi
from llamadash.ui.attached import AttachedDash
from llamadash.ui.modals.picker import ModelPicker
from llamadash.ui.widgets.header import StatusLine
from llamadash.ui.widgets.logs import LogPane
from llamadash.ui.widgets.system import SystemPane
from tests.e2e.test_cli_verbs import LLAMADASH, another_free_port, process_conf, run_cli
from tests.support.tmux import Tmux

pytestmark = pytest.mark.llama
SIZE = (160, 48)


@pytest.fixture
def conf(tmp_path: Path, tiny_gguf: Path, free_port: int) -> Path:
    """A process-runtime models.conf on free ports, its state under tmp_path."""
    return process_conf(tmp_path, tiny_gguf.parent, free_port, "attach")


@pytest.fixture
def env(llama_server_bin: Path) -> dict[str, str]:
    return {"LLAMA_SERVER": str(llama_server_bin)}


@contextmanager
def owner(conf: Path, env: dict[str, str], *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """``llamadash serve`` until the block ends; the server it ran is stopped afterwards."""
    process = start_owner(conf, env, *extra)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(30)
        run_cli(conf, "stop", env=env)


def start_owner(conf: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[bytes]:
    log = conf.with_name("serve.log")
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(LLAMADASH), "--models-conf", str(conf), "serve", *extra],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if request("127.0.0.1", api_port(conf), "GET", "/healthz", timeout=2).status == 200:
                return process
        except LoopbackHttpError:
            time.sleep(0.05)
    process.kill()  # never left behind by a failed start
    process.wait(10)
    raise AssertionError(f"serve never listened: {log.read_text()}")


def api_port(conf: Path) -> int:
    line = next(x for x in conf.read_text().splitlines() if x.startswith("api_port ="))
    return int(line.split("=", 1)[1])


def owner_status(conf: Path, token: str = "") -> dict[str, object]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    reply = request("127.0.0.1", api_port(conf), "GET", "/status", headers=headers, timeout=5)
    answer: dict[str, object] = json.loads(reply.body)
    return answer


def open_dashboard(tmux: Tmux, conf: Path, env: dict[str, str]) -> None:
    """Plain ``llamadash`` in a 160x48 tmux window; the pane stays after it exits."""
    command = f"{LLAMADASH} --models-conf {conf}; echo EXIT=$?"
    tmux.run(
        "new-session", "-d", "-x", "160", "-y", "48", "-s", tmux.session,
        "-e", "TERM=xterm-256color", "-e", f"LLAMA_SERVER={env['LLAMA_SERVER']}", command,
    )  # fmt: skip
    tmux.run("set-option", "-t", tmux.session, "remain-on-exit", "on")


async def until(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``condition`` on the app's loop until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.05)


async def test_the_attached_dashboard_draws_the_owner_and_switches_through_it(
    conf: Path, env: dict[str, str]
) -> None:
    with owner(conf, env):
        url = f"http://127.0.0.1:{api_port(conf)}"
        app = AttachedDash(OwnerApi(url))
        async with app.run_test(size=SIZE) as pilot:
            header = app.query_one(StatusLine)
            await until(lambda: app.sample is not None, 15, "the first sample")
            assert "Idle" in header.text and header.endpoint.startswith("http://127.0.0.1:")
            system = app.query_one(SystemPane)
            await until(lambda: "cores" in "\n".join(system.rows), 10, "the system pane")
            await pilot.press("m")
            await until(lambda: isinstance(app.screen, ModelPicker), 10, "the picker")
            await pilot.press("1")
            await until(lambda: header.text == "Ready: Tiny random llama", 60, "Ready in header")
            now = owner_status(conf)
            assert (now["state"], now["profile_id"]) == ("ready", "tiny")
            logs = app.query_one(LogPane)
            await until(lambda: any("switching to" in x for x in app.lines), 10, "the log")
            assert logs.lines_shown > 0
            await pilot.press("q")
        assert app.quit_message.endswith("the servers run on")
        # Quitting the attached dashboard stopped nothing.
        assert owner_status(conf)["state"] == "ready"


async def test_a_token_protected_owner_refuses_without_it_and_attaches_with_it(
    conf: Path, env: dict[str, str]
) -> None:
    with owner(conf, env, "--token", "s3cret"):
        url = f"http://127.0.0.1:{api_port(conf)}"
        refused = AttachedDash(OwnerApi(url))
        async with refused.run_test(size=SIZE):
            await until(lambda: refused.failure, 15, "the refusal")
        assert "token" in refused.failure and "--token" in refused.failure
        assert refused.return_code == 2
        allowed = AttachedDash(OwnerApi(url, "s3cret"))
        async with allowed.run_test(size=SIZE):
            await until(lambda: allowed.sample is not None, 15, "a sample with the token")
            assert not allowed.failure


async def test_a_lost_owner_shows_disconnected_and_comes_back(
    conf: Path, env: dict[str, str]
) -> None:
    process = start_owner(conf, env)
    try:
        app = AttachedDash(OwnerApi(f"http://127.0.0.1:{api_port(conf)}"))
        async with app.run_test(size=SIZE):
            header = app.query_one(StatusLine)
            await until(lambda: app.hello is not None, 15, "hello")
            first_boot = app.hello.boot if app.hello else ""
            process.kill()
            process.wait(10)
            await until(lambda: header.lost, 15, "disconnected")
            assert "disconnected, retrying" in "\n".join(header.rows)
            process = start_owner(conf, env)
            back = time.time()
            await until(
                lambda: app.hello is not None and app.hello.boot != first_boot and not header.lost,
                20,
                "the new owner",
            )
            # Its panes are drawn from the new owner again, not left at the last sample.
            await until(
                lambda: app.sample is not None and app.sample.system.at > back, 10, "a new sample"
            )
    finally:
        process.terminate()
        process.wait(30)
        run_cli(conf, "stop", env=env)


def test_plain_llamadash_attaches_and_two_dashboards_see_one_switch_and_the_owner_lost(
    conf: Path, env: dict[str, str], tmp_path: Path
) -> None:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: apt-get install tmux")
    terminals = [
        Tmux(f"attach-{n}-{uuid.uuid4().hex[:6]}", tmp_path / f"t{n}.sock") for n in (1, 2)
    ]
    served = start_owner(conf, env)
    try:
        for tmux in terminals:
            open_dashboard(tmux, conf, env)
        for tmux in terminals:
            tmux.wait_for(lambda s: "Detach" in s and "Idle:" in s, 30, "attached header")
        first, second = terminals
        first.keys("m")
        first.wait_for(lambda s: "Tiny random llama" in s, 10, "the picker")
        first.keys("1")
        for tmux in terminals:
            tmux.wait_for(lambda s: "Ready: Tiny random llama" in s, 60, "Ready")
        # The owner dies: both say so, in their header, without a traceback; then it is back.
        served.kill()
        served.wait(10)
        for tmux in terminals:
            screen = tmux.wait_for(lambda s: "disconnected, retrying" in s, 20, "disconnected")
            assert "Traceback" not in screen
        served = start_owner(conf, env)
        for tmux in terminals:
            tmux.wait_for(
                lambda s: "Ready: Tiny random llama" in s and "disconnected" not in s,
                30,
                "the owner back",
            )
        second.keys("q")
        screen = second.wait_for(lambda s: "EXIT=0" in s, 15, "the detach")
        assert "the servers run on" in screen and "Traceback" not in screen
        assert owner_status(conf)["profile_id"] == "tiny"
    finally:
        for tmux in terminals:
            tmux.kill()
        served.terminate()
        served.wait(30)
        run_cli(conf, "stop", env=env)


def test_a_second_llamadash_attaches_to_a_dashboard_that_owns_the_servers(
    conf: Path, env: dict[str, str], tmp_path: Path
) -> None:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: apt-get install tmux")
    owning, attached = (
        Tmux(f"own-{n}-{uuid.uuid4().hex[:6]}", tmp_path / f"o{n}.sock") for n in (1, 2)
    )
    try:
        for tmux in (owning, attached):
            open_dashboard(tmux, conf, env)
            if tmux is owning:  # the first one owns (its lock names its API) before the second
                tmux.wait_for(lambda s: "Stop+Quit" in s, 30, "the owning dashboard")
        attached.wait_for(lambda s: "Detach" in s and "Idle:" in s, 30, "the attached one")
        attached.keys("m")
        attached.wait_for(lambda s: "Tiny random llama" in s, 10, "the picker")
        attached.keys("1")
        for tmux in (owning, attached):
            tmux.wait_for(lambda s: "Ready: Tiny random llama" in s, 60, "Ready")
    finally:
        attached.kill()
        owning.kill()
        run_cli(conf, "stop", env=env)


def test_attach_where_nothing_answers_says_so_and_exits_2(tmp_path: Path) -> None:
    port = another_free_port()
    done = subprocess.run(
        [str(LLAMADASH), "attach", f"127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "TERM": "dumb"},
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"http://127.0.0.1:{port} did not answer" in done.stderr
    assert "llamadash serve" in done.stderr and "Traceback" not in done.stderr
