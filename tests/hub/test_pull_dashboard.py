"""The whole dashboard flow (Pilot, real process Engine, STAND-IN hub for the files): choosing
a profile whose model is missing offers the pull, shows its bar, then starts the profile."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from llamadash.core.context import Engine, build_engine
from llamadash.ui.modals.pull import PullModal
from tests.e2e.conftest import write_conf
from tests.hub.conftest import TINY_REPO
from tests.support.hub_standin import StandinHub
from tests.ui.helpers import wait_until
from tests.ui.test_dashboard_pilot import dashboard, open_picker, wait_ready


@pytest.fixture
async def engine_hub(
    standin: StandinHub,
    tmp_path: Path,
    free_port: int,
    llama_server_bin: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Engine]:
    """A process Engine whose models.conf has a profile naming its source, its model absent."""
    monkeypatch.setenv("LLAMA_SERVER", str(llama_server_bin))
    monkeypatch.setenv("HF_ENDPOINT", standin.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    (tmp_path / "models").mkdir()
    conf = write_conf(
        tmp_path / "models.conf",
        models_dir=tmp_path / "models",
        port=free_port,
        project=f"hubui-{uuid.uuid4().hex[:8]}",
        project_dir=tmp_path,
        state_dir=tmp_path / "state",
        runtime="process",
    )
    with conf.open("a") as handle:
        handle.write(
            f"\n[pulled]\nname = Pulled tiny\nmodel = {TINY_REPO}/tiny-Q4_K_M.gguf\n"
            f"hf = {TINY_REPO}:Q4_K_M\nctx = 256\nngl = 0\nthreads = 1\n"
        )
    engine = build_engine(conf)
    yield engine
    await engine.switcher.request(None)
    await engine.switcher.aclose()


async def test_choosing_a_missing_model_pulls_it_then_starts_it(
    engine_hub: Engine, tmp_path: Path
) -> None:
    async with dashboard(engine_hub) as (app, pilot, _seen):
        await open_picker(app, pilot)
        number = [p.id for p in engine_hub.profiles.production].index("pulled") + 1
        await pilot.press(str(number))
        await wait_until(pilot, lambda: isinstance(app.screen, PullModal), 5, "the pull modal")
        modal = app.screen
        assert isinstance(modal, PullModal)
        await wait_until(pilot, lambda: modal.plan is not None, 30, "its plan")
        await pilot.press("enter")
        await wait_ready(app, pilot, "Pulled tiny")
    assert (tmp_path / "models" / TINY_REPO / "tiny-Q4_K_M.gguf").is_file()
