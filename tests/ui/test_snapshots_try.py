"""Snapshots of the try-prompt (``t``) and bench (``B``) modals and the picker's measured speed.

Same fixed setup as test_snapshots.py (its fixtures and data): no server runs. The bench
modal is shown once its measurement has failed against the absent server (a fixed message),
so the picture does not depend on timing. Regenerate after a deliberate UI change with
``--snapshot-update`` and look at the SVGs before committing them.
"""

from __future__ import annotations

import json
from typing import Any

from textual.pilot import Pilot

from llamadash.core.bench_history import BenchHistory
from llamadash.ui.app import LlamaDash
from llamadash.ui.modals.bench_run import BenchRun
from llamadash.ui.modals.picker import ModelPicker
from llamadash.ui.modals.try_prompt import TryPrompt
from tests.ui.helpers import wait_until
from tests.ui.samples import two_gpus
from tests.ui.test_snapshots import (  # noqa: F401  (app and snap_engine are fixtures)
    LOG_LINES,
    READY,
    SIZE,
    app,
    feed,
    snap_engine,
)
from tests.unit.test_run_and_bench_parts import result


def test_try_prompt_opened(
    app: LlamaDash,  # noqa: F811  (the fixture imported above)
    snap_compare: Any,
) -> None:
    """``t``: the title names the server; the prompt line has the focus."""

    async def then(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, LlamaDash)
        profile = app.engine.profiles.get("qwen-coder")
        assert profile is not None
        model = profile.model_path(app.engine.settings.models_dir)
        app.push_screen(TryPrompt("http://127.0.0.1:18080", f"Try {profile.name}", model, ()))
        await pilot.pause()

    run_before = feed(gpu=two_gpus(), ready=READY, lines=LOG_LINES, then=then)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_bench_run_without_a_server(
    app: LlamaDash,  # noqa: F811  (the fixture imported above)
    snap_compare: Any,
) -> None:
    """``B`` when the server does not answer: what it measures, then the reason it could not."""

    async def then(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, LlamaDash)
        profile = app.engine.profiles.get("qwen-coder")
        assert profile is not None
        settings = app.engine.settings
        history = BenchHistory.in_state_dir(settings.state_dir)
        modal = BenchRun(profile, settings.models_dir, "http://127.0.0.1:9", history)
        app.push_screen(modal)
        await wait_until(pilot, lambda: modal.finished, 10, "the failed measurement")
        await pilot.pause()

    run_before = feed(gpu=two_gpus(), ready=READY, lines=LOG_LINES, then=then)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_picker_with_measured_speeds(
    app: LlamaDash,  # noqa: F811  (the fixture imported above)
    snap_compare: Any,
) -> None:
    """``m`` with a bench history: ``bench N t/s`` beside the speed of the profile measured."""
    history = app.engine.settings.state_dir / "bench" / "history.jsonl"
    history.parent.mkdir(parents=True, exist_ok=True)
    history.write_text(json.dumps(result(58.4).to_dict()) + "\n")  # profile "gemma"

    async def then(pilot: Pilot[Any]) -> None:
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ModelPicker), 5, "picker")
        await pilot.pause()

    run_before = feed(gpu=two_gpus(), ready=READY, lines=LOG_LINES, then=then)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
