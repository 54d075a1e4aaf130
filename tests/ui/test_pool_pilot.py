"""The dashboard driving a pool of real llama-servers (both runtimes), by Pilot.

Two instances listed; selecting one makes the server, container/process and log panes show
it; ``s`` stops only the selected one; ``a`` in the picker starts one alongside; a start the
memory budget cannot hold shows admission's reason. Every wait is a bounded poll.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import Label

from llamadash.core.context import Engine
from llamadash.core.events import State
from llamadash.core.instance import Instance
from llamadash.ui.app import LlamaDash
from llamadash.ui.widgets.container import ContainerPane
from llamadash.ui.widgets.instances import InstancesPane
from llamadash.ui.widgets.logs import LogPane
from llamadash.ui.widgets.logview import LogView
from llamadash.ui.widgets.server import ServerPane
from tests.e2e.test_pool import pool_engine  # noqa: F401  (the fixture: both runtimes)
from tests.ui.helpers import wait_until
from tests.ui.test_dashboard_pilot import dashboard, open_picker, picker_rows, wait_ready

pytestmark = pytest.mark.engine

START_TIMEOUT = 60.0


def row_of(app: LlamaDash, profile_id: str) -> str:
    """The list's row of ``profile_id`` ('' when it is not listed)."""
    pane = app.query_one(InstancesPane)
    for info, text in zip(pane.infos, pane.rows, strict=False):
        if info.id == profile_id:
            return text
    return ""


def listed(app: LlamaDash) -> list[str]:
    pane = app.query_one(InstancesPane)
    return [info.id for info in pane.infos] if pane.display else []


def server_row(app: LlamaDash, label: str) -> str:
    for text in app.query_one(ServerPane).rows:
        if text.startswith(label):
            return text
    return ""


async def started_before(make: Callable[..., Engine], *profiles: str) -> None:
    """Start ``profiles`` with an earlier llamadash that quits (the servers keep running)."""
    earlier = make()
    for profile in profiles:
        outcome = await earlier.pool.start(profile)
        assert outcome.ok, outcome.message
    await earlier.idle.aclose()
    await earlier.pool.aclose()


def beside(engine: Engine, profile_id: str) -> Instance:
    instance = engine.pool.find(profile_id)
    assert instance is not None and instance is not engine.pool.foreground, profile_id
    return instance


async def test_the_list_shows_both_and_the_panes_follow_the_selection(
    pool_engine: Callable[..., Engine],  # noqa: F811
) -> None:
    await started_before(pool_engine, "tiny", "gemma")
    engine = pool_engine()
    async with dashboard(engine) as (app, pilot, _seen):
        await wait_until(pilot, lambda: listed(app) == ["tiny", "gemma"], 15, "both listed")
        gemma = beside(engine, "gemma")
        assert row_of(app, "tiny").startswith("▸1 ● Tiny random llama")
        assert row_of(app, "tiny").rstrip().endswith("fg")
        assert f":{gemma.settings.port}" in row_of(app, "gemma") and "ready" in row_of(app, "gemma")
        await wait_until(pilot, lambda: "tiny.gguf" in server_row(app, "model"), 10, "tiny")
        assert "Tiny random llama" in "\n".join(app.query_one(LogView).texts)

        # 2: the second instance; the server pane shows its model, the titles its port.
        await pilot.press("2")
        assert app.followed is gemma
        port = f":{gemma.settings.port}"
        await wait_until(
            pilot, lambda: "gemma-3-270m" in server_row(app, "model"), 10, "gemma's /props"
        )
        assert str(app.query_one(ServerPane).border_title) == f"Server · gemma {port}"
        assert str(app.query_one(LogPane).border_title).endswith(f"gemma {port}")
        assert row_of(app, "gemma").startswith("▸2")
        # The log pane holds gemma's log, and only it.
        texts = app.query_one(LogView).texts
        assert "--- switching to Gemma 3 270M ---" in texts, texts[:5]
        assert "--- switching to Tiny random llama ---" not in texts
        gemma.logs.extend(["a line only gemma's log has"])
        engine.switcher.logs.extend(["a line only tiny's log has"])
        view = app.query_one(LogView)
        await wait_until(pilot, lambda: "a line only gemma's log has" in view.texts, 5, "line")
        assert "a line only tiny's log has" not in view.texts
        await wait_until(pilot, lambda: _container_is(app, gemma), 10, "gemma's container")

        # r: the selected instance restarts (a new server), the foreground one does not.
        starts, tiny_starts = gemma.server_starts, engine.switcher.server_starts
        await pilot.press("r")
        await wait_until(
            pilot,
            lambda: gemma.server_starts > starts and gemma.last_event.state == State.READY,
            START_TIMEOUT,
            "gemma restarted",
        )
        assert engine.switcher.server_starts == tiny_starts

        # s: only the selected instance stops; the list goes, the panes follow tiny again.
        await pilot.press("s")
        await wait_until(
            pilot, lambda: engine.pool.find("gemma") is None, START_TIMEOUT, "gemma stopped"
        )
        await wait_until(pilot, lambda: not app.query_one(InstancesPane).display, 10, "hidden")
        assert app.followed is engine.switcher and engine.switcher.running
        assert engine.switcher.last_event.state == State.READY
        assert str(app.query_one(ServerPane).border_title) == "Server"
        await wait_until(pilot, lambda: "tiny.gguf" in server_row(app, "model"), 10, "tiny")


def _container_is(app: LlamaDash, instance: Instance) -> bool:
    """The container (or process) pane shows ``instance``: its container name or its PID."""
    rows = "\n".join(app.query_one(ContainerPane).rows)
    if app.engine.runtime.name == "compose":
        return instance.runtime.project_name in rows  # type: ignore[attr-defined]
    obs = instance.last_observation
    return obs is not None and f"pid      {obs.pid}" in rows


async def pick_alongside(app: LlamaDash, pilot: Pilot[None], number: int) -> None:
    """``m``, highlight production profile ``number``, then ``a``."""
    await open_picker(app, pilot)
    await pilot.press(*["down"] * (number - 1), "a")
    await wait_until(pilot, lambda: app.screen is app.screen_stack[0], 5, "the picker to close")


async def test_a_in_the_picker_starts_alongside_and_a_refusal_says_why(
    pool_engine: Callable[..., Engine],  # noqa: F811
) -> None:
    engine = pool_engine(memory_budget="40MiB", tiny2_extra="pin = true")
    async with dashboard(engine) as (app, pilot, seen):
        await open_picker(app, pilot)
        await pilot.press("1")
        await wait_ready(app, pilot, "Tiny random llama")

        # a on tiny2 (5th): it starts beside tiny, which keeps running.
        await pick_alongside(app, pilot, 5)
        await wait_until(
            pilot, lambda: listed(app) == ["tiny", "tiny2"], START_TIMEOUT, "tiny2 listed"
        )
        await wait_until(pilot, lambda: "ready" in row_of(app, "tiny2"), 10, "tiny2 ready")
        assert engine.switcher.profile_id == "tiny" and engine.switcher.running
        assert "pinned" in row_of(app, "tiny2")
        # The picker marks it as running beside the current one, and says what a does.
        picker = await open_picker(app, pilot)
        rows = picker_rows(app)
        assert "● current" in rows[0] and "○ running" in rows[4], rows
        assert "a: start alongside" in str(picker.query_one("#picker-help", Label).render())
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.screen_stack[0], 5, "picker closed")

        # a on gemma (2nd): 40 MiB cannot hold it; the reason is shown, nothing stops.
        await pick_alongside(app, pilot, 2)
        await wait_until(pilot, lambda: "Not started" in seen.toasts, 30, "the refusal")
        (reason,) = [n for n in seen.notes if n.startswith("cannot start gemma")]
        assert "needs ~" in reason and "40 MiB (memory_budget)" in reason, reason
        assert "tiny2 (pinned" in reason, reason
        assert not [t for t in seen.toasts if t == "Background task failed"], seen.toasts
        assert listed(app) == ["tiny", "tiny2"]
        assert engine.pool.find("gemma") is None
