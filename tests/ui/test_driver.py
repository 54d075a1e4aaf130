"""The quiet input driver on real pipes: keys, a lone ESC after a quiet spell, a prompt exit."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from textual import constants, events
from textual.app import App
from textual.drivers.linux_driver import LinuxDriver
from textual.message import Message

from llamadash.ui import driver as quiet
from llamadash.ui.app import LlamaDash
from llamadash.ui.driver import QuietLinuxDriver


class Recorder(QuietLinuxDriver):
    """The driver with stdin replaced by a pipe and messages kept instead of sent to an app."""

    def __init__(self, fileno: int) -> None:
        super().__init__(App())
        self.fileno = fileno
        self.keys: list[str] = []

    def process_message(self, message: Message) -> None:
        if isinstance(message, events.Key):
            self.keys.append(message.key)


@pytest.fixture
def running(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Recorder, int, threading.Thread]]:
    monkeypatch.setattr(quiet, "ACTIVE_FOR_S", 0.3)  # quiet after 0.3 s, not 3
    read_fd, write_fd = os.pipe()

    async def make() -> Recorder:  # a driver notes the running loop; these tests never use it
        return Recorder(read_fd)

    recorder = asyncio.run(make())
    thread = threading.Thread(target=recorder.run_input_thread, daemon=True)
    thread.start()
    yield recorder, write_fd, thread
    recorder.exit_event.set()
    thread.join(5)
    recorder.exit_event.close()
    for fd in (read_fd, write_fd):
        os.close(fd)


def wait_for(condition: Any, timeout: float) -> float:
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < timeout, "timed out"
        time.sleep(0.01)
    return time.monotonic() - began


def test_keys_arrive_and_a_lone_escape_after_a_quiet_spell_is_a_key(
    running: tuple[Recorder, int, threading.Thread],
) -> None:
    recorder, write_fd, _thread = running
    os.write(write_fd, b"m1")
    wait_for(lambda: recorder.keys == ["m", "1"], 2)
    time.sleep(quiet.ACTIVE_FOR_S + 0.2)  # idle: the thread now waits up to IDLE_POLL_S
    os.write(write_fd, b"\x1b")  # could start an escape sequence: needs the 0.1 s tick
    took = wait_for(lambda: recorder.keys[-1:] == ["escape"], 2)
    assert took < quiet.IDLE_POLL_S / 2, f"a lone ESC took {took:.2f}s"


def test_exit_does_not_wait_for_the_idle_timeout(
    running: tuple[Recorder, int, threading.Thread],
) -> None:
    recorder, _write_fd, thread = running
    time.sleep(quiet.ACTIVE_FOR_S + 0.2)
    began = time.monotonic()
    recorder.exit_event.set()  # what Textual's disable_input does before joining the thread
    thread.join(5)
    assert not thread.is_alive()
    assert time.monotonic() - began < quiet.IDLE_POLL_S / 2


def test_the_dashboard_picks_the_quiet_driver_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dash = LlamaDash.__new__(LlamaDash)  # only the driver choice, no engine needed
    monkeypatch.setattr(constants, "DRIVER", None)
    assert dash.get_driver_class() is QuietLinuxDriver
    monkeypatch.setattr(constants, "DRIVER", "textual.drivers.linux_driver:LinuxDriver")
    assert dash.get_driver_class() is LinuxDriver
