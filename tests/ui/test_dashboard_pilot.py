"""The dashboard driven by Pilot against the real test engine: keys in, engine state out.

Every wait is a bounded poll on app or engine state (``wait_until``), never a fixed sleep.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from textual import events
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot
from textual.widgets import Label, OptionList

from llamadash.collectors.bundle import collectors_for
from llamadash.core.context import Engine
from llamadash.core.events import BUSY_STATES, Result, State, SwitchEvent, SwitchOutcome
from llamadash.ui.app import LlamaDash, build_app
from llamadash.ui.messages import EngineChanged, SwitchFinished
from llamadash.ui.modals.picker import ModelPicker
from llamadash.ui.screens.help import HelpScreen
from llamadash.ui.widgets.header import StatusLine
from llamadash.ui.widgets.logs import LogPane
from llamadash.ui.widgets.logview import LogView
from tests.ui.helpers import wait_until

pytestmark = pytest.mark.engine

SIZE = (160, 48)
SWITCH_TIMEOUT = 60.0


@dataclass
class Seen:
    """What the app received, in order (recorded by the message hook before each dispatch)."""

    events: list[SwitchEvent] = field(default_factory=list)
    outcomes: list[SwitchOutcome] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    # Titles of every toast posted; the app's own set drops them when they time out (5 s).
    toasts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # their texts
    app: LlamaDash | None = None

    def hook(self, message: Message) -> None:
        if isinstance(message, EngineChanged):
            self.events.append(message.event)
        elif isinstance(message, SwitchFinished):
            self.outcomes.append(message.outcome)
        elif isinstance(message, Notify):
            self.toasts.append(message.notification.title)
            self.notes.append(message.notification.message)
        # The header as it stands now: each state it went through shows up here.
        if self.app is None or not self.app.screen_stack:
            return
        lines = self.app.screen_stack[0].query(StatusLine)
        if lines:
            text = lines.first().text
            if not self.headers or self.headers[-1] != text:
                self.headers.append(text)


@asynccontextmanager
async def dashboard(engine: Engine) -> AsyncIterator[tuple[LlamaDash, Pilot[None], Seen]]:
    app = build_app(engine, collectors=collectors_for(engine), refresh=0.2)
    seen = Seen(app=app)
    async with app.run_test(size=SIZE, message_hook=seen.hook) as pilot:
        await pilot.pause()
        yield app, pilot, seen


def picker_open(app: LlamaDash) -> bool:
    """The picker is the active screen and has filled its list."""
    screen = app.screen
    if not isinstance(screen, ModelPicker):
        return False
    listing = screen.query("#picker-list")
    return bool(listing) and listing.first(OptionList).option_count > 0


def header(app: LlamaDash) -> str:
    return app.query_one(StatusLine).text


def picker_rows(app: LlamaDash) -> list[str]:
    assert isinstance(app.screen, ModelPicker), app.screen
    listing = app.screen.query_one("#picker-list", OptionList)
    return [str(listing.get_option_at_index(i).prompt) for i in range(listing.option_count)]


async def open_picker(app: LlamaDash, pilot: Pilot[None]) -> ModelPicker:
    await pilot.press("m")
    await wait_until(pilot, lambda: picker_open(app), 5, "the picker")
    assert isinstance(app.screen, ModelPicker)
    return app.screen


async def wait_ready(app: LlamaDash, pilot: Pilot[None], name: str) -> None:
    await wait_until(
        pilot,
        lambda: header(app) == f"Ready: {name}" and not app.switcher.busy,
        SWITCH_TIMEOUT,
        f"Ready: {name} (header now {header(app)!r})",
    )


async def test_picker_switches_and_cancels(engine_c: Engine) -> None:
    async with dashboard(engine_c) as (app, pilot, seen):
        assert header(app).startswith("Idle")
        # m: the picker lists the production profiles numbered 1..4, nothing marked yet.
        picker = await open_picker(app, pilot)
        rows = picker_rows(app)
        assert len(rows) == len(engine_c.profiles.production) == 4
        for number, (row, profile) in enumerate(
            zip(rows, engine_c.profiles.production, strict=True), 1
        ):
            assert row.lstrip().startswith(f"{number}  {profile.name}")
        assert not any("current" in row for row in rows)
        assert picker.query_one("#picker-title", Label).render().plain == "Switch model"
        assert not picker.query("#picker-busy")

        # 1: tiny; the header goes Starting → Loading → Ready.
        await pilot.press("1")
        await wait_ready(app, pilot, "Tiny random llama")
        assert not isinstance(app.screen, ModelPicker)
        headers = [*seen.headers, header(app)]  # the hook may not have run since Ready
        starting = headers.index("Starting Tiny random llama…")
        loading = [i for i, h in enumerate(headers) if h.startswith("Loading Tiny random llama…")]
        assert loading and starting < loading[0] < headers.index("Ready: Tiny random llama")
        states = [e.state for e in seen.events]
        assert (
            states.index(State.STARTING) < states.index(State.LOADING) < states.index(State.READY)
        )
        status = await engine_c.switcher.status()
        assert (status.state, status.profile_id) == (State.READY, "tiny")
        await wait_until(pilot, lambda: len(seen.outcomes) == 1, 5, "SwitchFinished")
        assert seen.outcomes[0].result == Result.READY

        # m then Esc: nothing changes, no switch starts.
        switches, ident = engine_c.switcher.stats.switches, status.container
        await open_picker(app, pilot)
        rows = picker_rows(app)
        assert "● current" in rows[0] and not any("current" in r for r in rows[1:])
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ModelPicker), 5, "close")
        await pilot.pause(0.3)
        assert not app.switcher.busy
        assert engine_c.switcher.stats.switches == switches
        assert not [w for w in app.workers if w.group == "switch"]
        assert header(app) == "Ready: Tiny random llama"
        assert (await engine_c.switcher.status()).container == ident

        # 2 while ready: Gemma.
        await open_picker(app, pilot)
        await pilot.press("2")
        await wait_ready(app, pilot, "Gemma 3 270M")
        status = await engine_c.switcher.status()
        assert (status.state, status.profile_id) == (State.READY, "gemma")

        # m, b, 1: the bench profile.
        picker = await open_picker(app, pilot)
        await pilot.press("b")
        await pilot.pause()
        assert picker.query_one("#picker-title", Label).render().plain.startswith("Bench")
        rows = picker_rows(app)
        assert len(rows) == 1 and rows[0].lstrip().startswith("b1  Tiny bench")
        await pilot.press("1")
        await wait_ready(app, pilot, "Tiny bench")
        status = await engine_c.switcher.status()
        assert (status.state, status.profile_id) == (State.READY, "bench-tiny")
        assert [o.result for o in seen.outcomes] == [Result.READY] * 3


async def quick_keys(app: LlamaDash, pilot: Pilot[None], *keys: str) -> None:
    """Keys as the terminal driver sends them, without Pilot's wait-for-idle after each one.

    ``pilot.press`` waits until the whole process is idle (< 5% CPU) after every key, which
    during a switch (log follower, collectors, compose) takes up to 2 s a key: too slow to
    choose twice while one switch runs.
    """
    for key in keys:
        app.post_message(events.Key(key, key if len(key) == 1 else None))
        await pilot.pause(0)


async def test_choice_during_a_switch_runs_next_and_the_latest_wins(engine_c: Engine) -> None:
    async with dashboard(engine_c) as (app, pilot, seen):
        await quick_keys(app, pilot, "m")
        await wait_until(pilot, lambda: picker_open(app), 5, "the picker")
        await quick_keys(app, pilot, "2")  # gemma: a real model, the slowest load here
        await wait_until(
            pilot,
            lambda: app.switcher.last_event.state in BUSY_STATES,
            10,
            "the switch to gemma to begin",
        )

        await quick_keys(app, pilot, "m")
        await wait_until(pilot, lambda: picker_open(app), 5, "the picker")
        note = app.screen.query_one("#picker-busy", Label).render().plain
        assert note.startswith("Switching to Gemma 3 270M now: your choice runs next"), note
        assert "latest choice wins" in note
        await quick_keys(app, pilot, "1")  # tiny: queued behind gemma
        await wait_until(pilot, lambda: not isinstance(app.screen, ModelPicker), 5, "close")
        status_line = app.query_one(StatusLine)
        await wait_until(pilot, lambda: status_line.queued == "tiny", 5, "(next: tiny) shown")

        await quick_keys(app, pilot, "m")
        await wait_until(pilot, lambda: picker_open(app), 5, "the picker")
        assert app.screen.query("#picker-busy")
        assert app.switcher.last_event.profile_id == "gemma", "gemma finished too early"
        await quick_keys(app, pilot, "b", "1")  # bench-tiny: replaces tiny in the queue

        await wait_ready(app, pilot, "Tiny bench")
        await wait_until(pilot, lambda: len(seen.outcomes) == 3, 10, "three outcomes")
        by_target = {o.profile_id: o.result for o in seen.outcomes}
        assert by_target == {
            "gemma": Result.READY,
            "tiny": Result.SUPERSEDED,
            "bench-tiny": Result.READY,
        }, seen.outcomes
        assert "Superseded" in seen.toasts, seen.toasts
        # tiny never started: no event ever named it.
        assert not [e for e in seen.events if e.profile_id == "tiny"]
        status = await engine_c.switcher.status()
        assert (status.state, status.profile_id, status.queued) == (
            State.READY,
            "bench-tiny",
            None,
        )


async def test_failed_load_keeps_the_app_running(engine_c: Engine) -> None:
    async with dashboard(engine_c) as (app, pilot, seen):
        logs = app.query_one(LogPane)
        assert logs.follow
        await open_picker(app, pilot)
        await pilot.press("4")  # corrupt: not a GGUF, llama-server exits with code 1
        await wait_until(
            pilot, lambda: header(app).startswith("Failed:"), SWITCH_TIMEOUT, "Failed:"
        )
        assert "exited with code 1" in header(app), header(app)
        assert not logs.follow
        assert "paused" in str(logs.border_title)
        assert app.is_running
        await wait_until(pilot, lambda: bool(seen.outcomes), 10, "SwitchFinished")
        assert seen.outcomes[-1].result == Result.FAILED
        assert "Switch failed" in seen.toasts, seen.toasts
        status = await engine_c.switcher.status()
        assert (status.state, status.profile_id) == (State.FAILED, "corrupt")
        # The header keeps saying Failed across status polls (refresh=0.2).
        await pilot.pause(0.6)
        assert header(app).startswith("Failed:")

        # Recover: tiny works after the failure.
        await open_picker(app, pilot)
        await pilot.press("1")
        await wait_ready(app, pilot, "Tiny random llama")
        # The failure paused the log pane; the next switch follows the tail again.
        assert logs.follow and "paused" not in str(logs.border_title)

        # s: stop → Idle.
        await pilot.press("s")
        await wait_until(
            pilot,
            lambda: header(app).startswith("Idle") and not app.switcher.busy,
            SWITCH_TIMEOUT,
            "Idle",
        )
        status = await engine_c.switcher.status()
        assert status.state == State.IDLE
        assert seen.outcomes[-1].result == Result.STOPPED
        # A pause the user chose stays through a switch.
        await pilot.press("f")
        assert not logs.follow
        await open_picker(app, pilot)
        await pilot.press("1")
        await wait_ready(app, pilot, "Tiny random llama")
        assert not logs.follow


async def test_help_filter_and_follow(engine_c: Engine) -> None:
    async with dashboard(engine_c) as (app, pilot, _seen):
        # ?: help; Esc closes it.
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), 5, "help")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen), 5, "help closed")

        # Some log lines (through the switcher's hub, as the log follower would add them).
        app.switcher.logs.extend(
            [f"0.00.{i:03d}.000 I slot update: id {i} | task {i}" for i in range(20)]
            + ["0.00.100.000 I main: server is listening on http://0.0.0.0:8080"]
            + ["0.00.101.000 W load: a warning line"]
        )
        pane = app.query_one(LogPane)
        view = app.query_one("#log", LogView)
        await wait_until(pilot, lambda: pane.lines_shown >= 22, 5, "lines in the pane")

        # /: the filter input opens and has focus; a word + Enter keeps only matching lines.
        await pilot.press("slash")
        box = app.query_one("#log-filter")
        await wait_until(pilot, lambda: box.display and box.has_focus, 5, "filter input")
        await pilot.press(*"listening", "enter")
        await wait_until(pilot, lambda: pane.filter_text == "listening", 5, "filter applied")
        assert not box.display
        await pilot.pause()
        texts = view.texts
        assert texts and all("listening" in t for t in texts), texts
        assert "filter: 'listening'" in str(pane.border_title)
        # New lines are filtered too.
        app.switcher.logs.extend(["0.00.200.000 I slot update: nothing to see"])
        await pilot.pause(0.3)
        assert all("listening" in text for text in view.texts)

        # / then Esc clears the filter: every line is back.
        await pilot.press("slash")
        await wait_until(pilot, lambda: box.display, 5, "filter input")
        await pilot.press("escape")
        await wait_until(pilot, lambda: pane.filter_text == "", 5, "filter cleared")
        assert view.line_count >= 23

        # f: follow off, then on again; the title says so.
        assert pane.follow
        await pilot.press("f")
        assert not pane.follow and "paused" in str(pane.border_title)
        assert not view.auto_scroll
        await pilot.press("f")
        assert pane.follow and str(pane.border_title).startswith("Logs · follow")

        # l: the log view takes focus (for scrolling).
        await pilot.press("l")
        assert view.has_focus


async def test_no_gpu_is_sampled_once_and_the_other_panes_keep_polling(engine_c: Engine) -> None:
    from textual.worker import WorkerState

    from llamadash.ui.widgets.gpu import GpuPane
    from llamadash.ui.widgets.system import SystemPane

    async with dashboard(engine_c) as (app, pilot, _seen):
        gpu = app.query_one(GpuPane)
        await wait_until(pilot, lambda: bool(gpu.rows) and "No NVIDIA" in gpu.rows[0], 5, "GPU")
        await wait_until(
            pilot,
            lambda: not any(w.group == "gpu" and not w.is_finished for w in app.workers),
            5,
            "the GPU worker to finish (no GPU on these machines)",
        )
        system = app.query_one(SystemPane)
        first = system.rows
        await wait_until(pilot, lambda: system.rows != first, 5, "the system pane to update")
        assert any(w.group == "system" and w.state == WorkerState.RUNNING for w in app.workers)
