"""The dashboard follows models.conf edits: a bad one is shown, a new profile is offered.

A real Engine over the process runtime (nothing is started, so no server is needed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.message import Message
from textual.notifications import Notify
from textual.widgets import OptionList

from llamadash.core.context import Engine, build_engine
from llamadash.ui.app import build_app
from llamadash.ui.modals.picker import ModelPicker
from llamadash.ui.widgets.header import StatusLine
from tests.ui.helpers import wait_until

CONF = """\
[llamadash]
runtime = process
port = {port}
project_name = reload-ui
state_dir = {state}

[tiny]
name = Tiny
model = tiny.gguf
"""


@pytest.fixture
async def engine(tmp_path: Path, free_port: int) -> AsyncIterator[Engine]:
    conf = tmp_path / "models.conf"
    conf.write_text(CONF.format(port=free_port, state=tmp_path / "state"))
    built = build_engine(conf)
    yield built
    await built.switcher.aclose()


async def test_a_bad_edit_is_shown_and_a_new_profile_is_offered(engine: Engine) -> None:
    conf = engine.profiles.path
    toasts: list[str] = []

    def hook(message: Message) -> None:
        if isinstance(message, Notify):
            toasts.append(f"{message.notification.title}: {message.notification.message}")

    app = build_app(engine, refresh=0.2)
    async with app.run_test(size=(160, 48), message_hook=hook) as pilot:
        line = app.query_one(StatusLine)
        conf.write_text(conf.read_text() + "[tiny2]\nname = Second tiny\nmodel = tiny.gguf\n[\n")
        bad = f"{conf}:{len(conf.read_text().splitlines())}"
        await wait_until(pilot, lambda: bad in line.config, 10, "the error in the header")
        assert "previous profiles kept" in line.config
        assert any(t.startswith(f"models.conf not reloaded: {bad}") for t in toasts), toasts

        conf.write_text(conf.read_text().removesuffix("[\n"))
        await wait_until(pilot, lambda: line.config == "", 10, "the error to clear")
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker), 5, "the picker")
        listing = app.screen.query_one("#picker-list", OptionList)
        rows = [str(listing.get_option_at_index(i).prompt) for i in range(listing.option_count)]
        assert any("Second tiny" in row for row in rows), rows
