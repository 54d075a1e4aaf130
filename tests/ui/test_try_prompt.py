"""The try-prompt (``t``) and bench (``B``) modals against a real llama-server, by Pilot.

The answer streams into the modal with its speed; Esc stops an answer mid-way (the server's
slot is freed) and the modal stays; Esc again closes it. The picker shows what
``llamadash bench`` last measured. Every wait is a bounded poll.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import Label, OptionList

from llamadash.core.bench_history import BenchHistory
from llamadash.core.chat import Sampling
from llamadash.core.context import Engine
from llamadash.core.http_stream import get_json
from llamadash.ui.app import build_app
from llamadash.ui.modals.bench_run import BenchRun
from llamadash.ui.modals.picker import ModelPicker
from llamadash.ui.modals.try_prompt import TryPrompt
from tests.ui.helpers import wait_until
from tests.unit.test_run_and_bench_parts import result

pytestmark = pytest.mark.llama

SIZE = (120, 36)


def answer_text(modal: TryPrompt) -> str:
    return modal.transcript


def stats(modal: TryPrompt) -> str:
    return str(modal.query_one("#try-stats", Label).render())


def busy_slots(endpoint: str) -> int:
    _code, slots = get_json(endpoint, "/slots")
    return sum(bool(slot.get("is_processing")) for slot in slots)


async def test_t_streams_an_answer_and_esc_closes(engine_p: Engine) -> None:
    assert (await engine_p.switcher.request("tiny")).result.value == "ready"
    app = build_app(engine_p, collectors=None, api=None, refresh=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.switcher.last_event.state == "ready", 15, "adopted")
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TryPrompt), 5, "the modal")
        modal = app.screen
        assert isinstance(modal, TryPrompt)
        await pilot.press(*"hello", "enter")
        await wait_until(pilot, lambda: "tokens/s" in stats(modal), 30, "the answer's speed")
        text = answer_text(modal)
        assert text.startswith("> hello\n") and len(text) > len("> hello\n"), text
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, TryPrompt), 5, "closed")


async def test_esc_stops_an_answer_mid_way_and_the_modal_stays(engine_p: Engine) -> None:
    assert (await engine_p.switcher.request("gemma")).result.value == "ready"
    endpoint = engine_p.switcher.endpoint
    profile = engine_p.profiles.get("gemma")
    assert profile is not None
    model = profile.model_path(engine_p.settings.models_dir)
    app = build_app(engine_p, collectors=None, api=None, refresh=0.2)
    async with app.run_test(size=SIZE) as pilot:
        modal = TryPrompt(
            endpoint,
            "Try Gemma",
            model,
            profile.server_args(str(model)),
            sampling=Sampling(temperature=0, n_predict=1500),
        )
        await app.push_screen(modal)
        await pilot.press(*"Once upon a time", "enter")
        await wait_until(pilot, lambda: len(answer_text(modal)) > 80, 30, "tokens streaming")
        assert "(no chat template: continuing the text)" in answer_text(modal)
        assert modal.streaming and busy_slots(endpoint) == 1
        await pilot.press("escape")
        await wait_until(pilot, lambda: not modal.streaming, 10, "the answer to stop")
        assert "stopped" in stats(modal) and app.screen is modal  # still open
        await wait_until(pilot, lambda: busy_slots(endpoint) == 0, 10, "the slot to be freed")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is not modal, 5, "closed")


async def test_the_picker_shows_the_last_measured_speed(engine_p: Engine) -> None:
    history = engine_p.settings.state_dir / "bench" / "history.jsonl"
    history.parent.mkdir(parents=True, exist_ok=True)
    lines = [result(40.0), result(58.4)]  # gemma twice: the newest counts
    history.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in lines))
    app = build_app(engine_p, collectors=None, api=None, refresh=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker), 5, "the picker")
        await pilot.pause()
        listing = app.screen.query_one("#picker-list", OptionList)
        rows = [str(listing.get_option_at_index(i).prompt) for i in range(listing.option_count)]
        gemma = next(row for row in rows if "Gemma" in row)
        assert "bench 58 t/s" in gemma, rows
        assert not any("bench" in row for row in rows if "Gemma" not in row)


async def test_b_benches_the_selected_server_and_keeps_the_result(engine_p: Engine) -> None:
    assert (await engine_p.switcher.request("tiny")).result.value == "ready"
    history = BenchHistory.in_state_dir(engine_p.settings.state_dir)
    app = build_app(engine_p, collectors=None, api=None, refresh=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.switcher.last_event.state == "ready", 15, "adopted")
        await pilot.press("B")
        await wait_until(pilot, lambda: isinstance(app.screen, BenchRun), 5, "the modal")
        modal = app.screen
        assert isinstance(modal, BenchRun)
        await wait_until(pilot, lambda: modal.finished, 60, "the measurement")
        lines = modal.lines
        assert [line for line in lines if line.startswith("3/3: prompt ")], lines
        assert any("the first result with these arguments" in line for line in lines), lines
        (stored,) = history.results()
        assert stored.profile == "tiny" and stored.load_seconds is None  # not restarted
        assert stored.gen.median > 0 and stored.prompt.median > 0
        assert Path(stored.binary).name == "llama-server"  # read from the running process
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is not modal, 5, "closed")
