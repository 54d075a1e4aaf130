"""The dashboard's pull modal (Pilot) against the STAND-IN hub: ask, pull with a bar, start.

A small host app opens the real PullModal, as the picker's callback does for a profile whose
model is missing and which names its source (``hf = …``).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import Label, ProgressBar

from llamadash.core.profiles import parse_profiles
from llamadash.ui.modals.pull import PullModal, needs_pull
from tests.hub.conftest import TINY_REPO
from tests.support.hub_standin import StandinHub


class Host(App[None]):
    """Opens the modal and keeps its answer."""

    def __init__(self, modal: PullModal) -> None:
        super().__init__()
        self.modal = modal
        self.answer: bool | None = None
        self.answered = asyncio.Event()

    def on_mount(self) -> None:
        def keep(result: bool | None) -> None:
            self.answer = result
            self.answered.set()

        self.push_screen(self.modal, keep)


def profile_for(quant: str, file: str):  # type: ignore[no-untyped-def]
    conf = f"[t]\nname = Tiny\nmodel = {TINY_REPO}/{file}\nhf = {TINY_REPO}:{quant}\n"
    return parse_profiles(conf).get("t")


@pytest.fixture
def hub_env(standin: StandinHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StandinHub:
    monkeypatch.setenv("HF_ENDPOINT", standin.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return standin


async def until(condition, what: str, seconds: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_asks_then_pulls_with_a_bar_and_answers_true(
    hub_env: StandinHub, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    profile = profile_for("IQ4_XS", "big-IQ4_XS.gguf")
    assert needs_pull(profile, models)
    hub_env.rate = 3_000_000  # ~2 s: the bar moves
    modal = PullModal(profile, models)
    app = Host(modal)
    async with app.run_test() as pilot:
        await until(lambda: modal.plan is not None, "the plan")
        detail = modal.query_one("#pull-detail", Label)
        assert "pull llamadash-test/tiny-GGUF IQ4_XS (6.3 MB)" in str(detail.render())
        assert not (models / TINY_REPO / "big-IQ4_XS.gguf.partial").exists()  # nothing yet
        await pilot.press("enter")
        bar = modal.query_one("#pull-bar", ProgressBar)
        await until(lambda: 0 < bar.progress < 6_291_456, "progress on the bar")
        await asyncio.wait_for(app.answered.wait(), 30)
    assert app.answer is True
    assert not needs_pull(profile, models)


async def test_esc_stops_the_pull_and_keeps_the_partial(
    hub_env: StandinHub, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    profile = profile_for("IQ4_XS", "big-IQ4_XS.gguf")
    hub_env.rate = 1_000_000
    modal = PullModal(profile, models)
    app = Host(modal)
    partial = models / TINY_REPO / "big-IQ4_XS.gguf.partial"
    async with app.run_test() as pilot:
        await until(lambda: modal.plan is not None, "the plan")
        await pilot.press("enter")
        await until(lambda: partial.is_file() and partial.stat().st_size > 0, "bytes on disk")
        await pilot.press("escape")
        await asyncio.wait_for(app.answered.wait(), 10)
        await until(lambda: not modal.pulling or not modal.is_attached, "the worker to stop")
    assert app.answer is False
    assert partial.is_file() and not (models / TINY_REPO / "big-IQ4_XS.gguf").exists()


async def test_a_refusal_is_shown_and_nothing_is_pulled(
    hub_env: StandinHub, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    profile = profile_for("Q2_K", "tiny-Q2_K.gguf")  # the repo has no Q2_K
    modal = PullModal(profile, models)
    app = Host(modal)
    async with app.run_test() as pilot:
        detail = modal.query_one("#pull-detail", Label)
        await until(lambda: "has no quant Q2_K" in str(detail.render()), "the refusal")
        await pilot.press("enter")  # nothing to confirm
        await pilot.press("escape")
        await asyncio.wait_for(app.answered.wait(), 10)
    assert app.answer is False and not models.exists()
