"""Snapshots of every screen and modal, fed fixed data (no collectors, no network, no server).

The app runs on a process-runtime Engine whose llama_server path does not exist; nothing here
starts a server (adopt() only reads the runtime's state file). Panes get fixed snapshots through
the app's own message classes; the header's clock is frozen so "elapsed" is stable.

Regenerate after a deliberate UI change:
    .venv/bin/python -m pytest tests/ui/test_snapshots.py --snapshot-update
and look at the SVGs under tests/ui/__snapshots__/ before committing them.
"""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from textual.pilot import Pilot

from llamadash.collectors.gpu import GpuSnapshot
from llamadash.core.context import Engine, build_engine
from llamadash.core.events import State, SwitchEvent
from llamadash.core.progress import Progress
from llamadash.ui.app import LlamaDash, build_app
from llamadash.ui.messages import (
    ContainerSampled,
    EngineChanged,
    GpuSampled,
    ServerSampled,
    SystemSampled,
)
from llamadash.ui.modals.picker import ModelPicker
from llamadash.ui.widgets import header
from llamadash.ui.widgets.logs import LogPane
from tests.ui.samples import NOW, container, no_gpu, server, system, two_gpus

SIZE = (140, 42)
# Fixed folders: the help screen prints the log file's path, so it must not vary per run.
SNAP_DIR = Path("/tmp/llamadash-ui-snapshots")

CONF = """\
[llamadash]
runtime = process
llama_server = /nonexistent/llama-server
models_dir = {root}/models
state_dir = {root}/state
project_name = snapshots
port = 18080

[qwen-coder]
name = Qwen3-Coder 30B A3B (Q4_K_M)
model = qwen3-coder-30b-a3b-q4_k_m.gguf
ctx = 65536
speed = 140 t/s

[gemma]
name = Gemma 3 270M
model = gemma-3-270m-Q4_K_M.gguf
ctx = 1024
speed = fast

[tiny]
name = Tiny random llama
model = tiny.gguf
ctx = 512

[bench-qwen]
name = Qwen3-Coder bench (ctx 4k)
model = qwen3-coder-30b-a3b-q4_k_m.gguf
ctx = 4096
bench = true

[bench-tiny]
name = Tiny bench
model = tiny.gguf
ctx = 256
bench = true
"""

LOG_LINES = (
    "--- switching to Qwen3-Coder 30B A3B (Q4_K_M) ---",
    "0.00.012.001 I build: 6432 (a1b2c3d4) with cc (GCC) 13.2.0 for x86_64-linux-gnu",
    "0.00.013.420 I system info: n_threads = 16, n_threads_batch = 16, total_threads = 32",
    "0.00.104.870 I load_model: loading model 'models/qwen3-coder-30b-a3b-q4_k_m.gguf'",
    "0.00.211.005 I llama_model_loader: loaded meta data with 39 key-value pairs",
    "0.00.342.118 W load: special_eos_id is not in special_eog_ids - the tokenizer config",
    "0.03.118.502 I load_tensors: offloaded 49/49 layers to GPU",
    "0.03.202.331 I llama_context: n_ctx = 65536, n_batch = 2048, n_ubatch = 512",
    "0.04.870.004 I main: model loaded",
    "0.04.870.120 I main: server is listening on http://0.0.0.0:8080",
    "0.12.004.551 I slot launch_slot_: id  0 | task 0 | processing task",
    "0.13.771.019 I slot print_timing: id  0 | task 0 | 412 tokens, 139.84 tokens per second",
)

FAILED_LINES = (
    "--- switching to Tiny random llama ---",
    "0.00.011.002 I build: 6432 (a1b2c3d4) with cc (GCC) 13.2.0 for x86_64-linux-gnu",
    "0.00.012.777 I load_model: loading model 'models/tiny.gguf'",
    "0.00.013.101 E gguf_init_from_file_impl: invalid magic characters: 'this'",
    "0.00.013.150 E llama_model_load: error loading model: failed to read the file",
    "0.00.013.402 E main: exiting due to model loading error",
)


def event(state: State, profile_id: str | None, name: str, ago: float, **extra: Any) -> SwitchEvent:
    return SwitchEvent(state, profile_id, name, NOW - ago, **extra)


READY = event(State.READY, "qwen-coder", "Qwen3-Coder 30B A3B (Q4_K_M)", 125, message="ready")


@pytest.fixture
def snap_engine(request: pytest.FixtureRequest) -> Engine:
    """An engine in a fixed folder per test, emptied first (the log hub reloads its file)."""
    root = SNAP_DIR / request.node.name
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    conf = root / "models.conf"
    conf.write_text(CONF.format(root=root))
    # Two of the three models are there: the picker marks the third "[model missing]".
    (root / "models").mkdir()
    for name in ("qwen3-coder-30b-a3b-q4_k_m.gguf", "gemma-3-270m-Q4_K_M.gguf"):
        (root / "models" / name).write_bytes(b"GGUF")
    return build_engine(conf)


@pytest.fixture
def app(snap_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[LlamaDash]:
    """A fresh app (and engine, so an empty log buffer) per snapshot; the header's clock frozen."""
    monkeypatch.setattr(header, "time", SimpleNamespace(time=lambda: NOW))
    # refresh=3600: the status observer sleeps for the whole test, so nothing overwrites the
    # fixed data posted below once adopt() has reported.
    yield build_app(snap_engine, collectors=None, api=None, refresh=3600)


async def settle(pilot: Pilot[Any]) -> None:
    """Wait for adopt() and its StatusObserved, so later fixed messages win."""
    for worker in list(pilot.app.workers):
        if worker.group == "engine":
            await worker.wait()
    await pilot.pause()


def feed(
    *,
    gpu: GpuSnapshot,
    ready: SwitchEvent,
    lines: tuple[str, ...],
    with_container: bool = True,
    with_server: bool = True,
    then: Callable[[Pilot[Any]], Awaitable[None]] | None = None,
) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, LlamaDash)
        await settle(pilot)
        app.post_message(GpuSampled(gpu))
        app.post_message(SystemSampled(system()))
        if with_container:
            app.post_message(ContainerSampled(container()))
        if with_server:
            app.post_message(ServerSampled(server()))
        app.switcher.logs.extend(lines)
        app.drain_logs()
        app.post_message(EngineChanged(ready))
        await pilot.pause()
        if then is not None:
            await then(pilot)

    return run_before


def test_main_screen_two_gpus(app: LlamaDash, snap_compare: Any) -> None:
    """Ready, two GPUs, a running container, a busy slot, llama-server logs."""
    run_before = feed(gpu=two_gpus(), ready=READY, lines=LOG_LINES)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_main_screen_small_terminal(app: LlamaDash, snap_compare: Any) -> None:
    """The same data in a 100x30 terminal."""
    run_before = feed(gpu=two_gpus(), ready=READY, lines=LOG_LINES)
    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_main_screen_80x24(app: LlamaDash, snap_compare: Any) -> None:
    """80x24: the header keeps both addresses, the footer keeps q Quit and Q Stop+Quit."""
    run_before = feed(gpu=no_gpu(), ready=READY, lines=LOG_LINES)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_main_screen_no_gpu_failed(app: LlamaDash, snap_compare: Any) -> None:
    """No NVIDIA GPU, the process runtime's pane, a failed load: logs paused at the error."""
    failed = event(
        State.FAILED,
        "tiny",
        "Tiny random llama",
        7,
        error="llama-server exited with code 1 while loading",
        exit_code=1,
    )
    run_before = feed(
        gpu=no_gpu(), ready=failed, lines=FAILED_LINES, with_container=False, with_server=False
    )
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_main_screen_loading(app: LlamaDash, snap_compare: Any) -> None:
    """A load in progress: stage, percentage and ETA in the header."""
    loading = event(
        State.LOADING,
        "qwen-coder",
        "Qwen3-Coder 30B A3B (Q4_K_M)",
        12,
        progress=Progress(stage="loading tensors", pct=42.0, elapsed=12.0, eta=17.0),
    )
    run_before = feed(gpu=two_gpus(), ready=loading, lines=LOG_LINES[:6], with_server=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def _push(picker: Callable[[LlamaDash], ModelPicker], *keys: str) -> Any:
    async def then(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, LlamaDash)
        app.push_screen(picker(app))
        await pilot.pause()
        if keys:
            await pilot.press(*keys)

    return then


def picker(app: LlamaDash, current: str, note: str = "") -> ModelPicker:
    return ModelPicker(app.engine.profiles, current, app.engine.settings.models_dir, note)


def test_picker(app: LlamaDash, snap_compare: Any) -> None:
    """Production profiles numbered 1-3, the running one marked."""
    then = _push(lambda a: picker(a, "qwen-coder"))
    run_before = feed(gpu=two_gpus(), ready=READY, lines=LOG_LINES, then=then)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_picker_80x24(app: LlamaDash, snap_compare: Any) -> None:
    """80x24: one line per profile, the name column shortened, marks and ctx whole."""
    then = _push(lambda a: picker(a, "qwen-coder"))
    run_before = feed(gpu=no_gpu(), ready=READY, lines=LOG_LINES, then=then)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_picker_bench_profiles(app: LlamaDash, snap_compare: Any) -> None:
    """``b`` in the picker: the bench profiles, numbered b1, b2."""
    then = _push(lambda a: picker(a, "qwen-coder"), "b")
    run_before = feed(gpu=two_gpus(), ready=READY, lines=LOG_LINES, then=then)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_picker_while_switching(app: LlamaDash, snap_compare: Any) -> None:
    """The picker during a switch says the choice runs next."""
    note = "Switching to Gemma 3 270M now: your choice runs next (the latest choice wins)."
    then = _push(lambda a: picker(a, "gemma", note))
    loading = event(
        State.LOADING,
        "gemma",
        "Gemma 3 270M",
        3,
        progress=Progress(stage="reading metadata", pct=15.0, elapsed=3.0, eta=None),
    )
    run_before = feed(gpu=two_gpus(), ready=loading, lines=LOG_LINES[:5], then=then)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_help_screen(app: LlamaDash, snap_compare: Any) -> None:
    """``?``: every key, the API address and the log file."""
    run_before = feed(gpu=two_gpus(), ready=READY, lines=LOG_LINES)
    assert snap_compare(app, press=["question_mark"], terminal_size=SIZE, run_before=run_before)


def test_log_filter(app: LlamaDash, snap_compare: Any) -> None:
    """``/`` then a word and Enter: only matching lines, the filter in the pane title."""

    async def then(pilot: Pilot[Any]) -> None:
        await pilot.press("slash", *"slot", "enter")
        await pilot.pause()
        assert pilot.app.query_one(LogPane).filter_text == "slot"

    run_before = feed(gpu=two_gpus(), ready=READY, lines=LOG_LINES, then=then)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
