"""User text shows exactly as written: brackets in names, paths and errors are never markup.

A profile named with markup-like brackets once crashed the dashboard (MarkupError in the
"Switching to …" toast), and bracketed words vanished from toasts ("profile  at"). The engine
here is a process-runtime one whose switch fails in preflight (the model file is missing), so
no server or Docker engine is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App
from textual.widgets import Label
from textual.widgets._toast import Toast

from llamadash.core.context import build_engine
from llamadash.ui.app import build_app
from llamadash.ui.modals.picker import ModelPicker
from llamadash.ui.screens.help import HelpScreen
from llamadash.ui.widgets.header import StatusLine
from llamadash.ui.widgets.logs import LogPane
from tests.ui.helpers import screen_text, wait_until


def toasts(app: App[Any]) -> list[str]:
    """The text of each toast on screen, oldest first, as drawn (title, newline, message)."""
    return [toast.render().plain for toast in app.screen.query(Toast)]


EVIL_NAME = "Evil [/x] [bold]name[/bold] [link=x]"
EVIL_MODEL = "missing [b]x[/b] [/y].gguf"
EVIL_STATE = "state [dim]s[/dim]"
CONF = """\
[llamadash]
runtime = process
llama_server = /nonexistent/llama-server
models_dir = {root}/models
state_dir = {root}/{state}
project_name = literal
port = {port}

[evil]
name = {name}
model = {model}
"""


async def test_bracketed_names_paths_and_errors_show_literally(
    tmp_path: Path, free_port: int
) -> None:
    conf = tmp_path / "models.conf"
    conf.write_text(
        CONF.format(
            root=tmp_path, state=EVIL_STATE, port=free_port, name=EVIL_NAME, model=EVIL_MODEL
        )
    )
    engine = build_engine(conf)
    app = build_app(engine, collectors=None, api=None, refresh=0.2)
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        # The picker lists the name as written.
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker), 5, "the picker")
        await pilot.pause()
        assert EVIL_NAME in screen_text(app)

        # Choosing it: a "Switching to …" toast, then the preflight fails with an error that
        # holds the bracketed path and "[evil]"; both toasts show every character.
        await pilot.press("1")
        await wait_until(
            pilot,
            lambda: not app.switcher.busy and "refused" in app.query_one(StatusLine).text,
            10,
            "the switch to be refused",
        )
        error = f"model file not found: {tmp_path}/models/{EVIL_MODEL} (profile [evil] at"
        await wait_until(pilot, lambda: len(toasts(app)) == 2, 5, "two toasts")
        shown = toasts(app)
        assert shown[0] == f"Switching to {EVIL_NAME}…", shown
        assert shown[1].startswith(f"Switch failed\n{error}"), shown
        assert app.is_running
        # The header holds it whole (and draws as much as the addresses leave room for).
        status = app.query_one(StatusLine)
        assert error in status.text
        # Refused before anything stopped: the state stays (Idle), the reason follows it.
        assert status.rows[0].startswith(
            f"● Idle: no model running (press m) · switch to {EVIL_NAME}"
        )

        # A filter typed with brackets appears in the log pane's title as typed.
        await pilot.press("slash", *"[b]x[/b]", "enter")
        pane = app.query_one(LogPane)
        await wait_until(pilot, lambda: pane.filter_text == "[b]x[/b]", 5, "the filter")
        assert "filter: '[b]x[/b]'" in screen_text(app)
        await pilot.press("escape")

        # The help screen prints the log file's path whole (its folder has brackets).
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), 5, "help")
        await pilot.pause()
        # (folded at the space before the brackets: the table keeps long paths whole)
        assert "[dim]s[/dim]/logs/literal.log" in screen_text(app)
        await pilot.press("escape")

        # The picker's note while a switch runs names the profile as written.
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen), 5, "help closed")
        app.push_screen(
            ModelPicker(
                engine.profiles, None, engine.settings.models_dir, f"Switching to {EVIL_NAME} now"
            )
        )
        await wait_until(pilot, lambda: bool(app.screen.query("#picker-busy")), 5, "the note")
        note = app.screen.query_one("#picker-busy", Label)
        assert note.render().plain == f"Switching to {EVIL_NAME} now"
