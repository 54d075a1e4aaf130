"""Load progress from llama-server log milestones and past load times."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llamadash.core.progress import (
    MILESTONES,
    STARTING,
    Progress,
    ProgressTracker,
    expected_duration,
    stage_of,
)

# Real llama-server lines (recent builds, as printed to stderr), one per milestone, in order.
REAL_LINES = [
    (
        "srv    load_model: loading model '/models/gemma-3-270m-Q4_K_M.gguf'",
        "opening model file",
        5.0,
    ),
    (
        "llama_model_loader: loaded meta data with 38 key-value pairs and 236 tensors from "
        "/models/gemma-3-270m-Q4_K_M.gguf (version GGUF V3 (latest))",
        "reading metadata",
        15.0,
    ),
    (
        "load_tensors: loading model tensors, this can take a while... (mmap = true)",
        "loading tensors",
        25.0,
    ),
    ("load_tensors:   CPU_Mapped model buffer size =   241.41 MiB", "tensors loaded", 70.0),
    ("llama_context: constructing llama_context", "initialising context", 80.0),
    (
        "srv    load_model: initializing, n_slots = 4, n_ctx_slot = 131072, kv_unified = 'true'",
        "initialising context",
        85.0,
    ),
    (
        "common_init_from_params: warming up the model with an empty run - please wait ... "
        "(--no-warmup to disable)",
        "warming up",
        90.0,
    ),
    ("srv  llama_server: model loaded", "model loaded", 97.0),
    (
        "main: server is listening on http://127.0.0.1:8080 - starting the main loop",
        "listening",
        99.0,
    ),
]

NOISE = [
    "llama_model_loader: - kv   0:                       general.architecture str = gemma3",
    "print_info: file format = GGUF V3 (latest)",
    "load_tensors: offloading 18 repeating layers to GPU",
    "srv  update_slots: all slots are idle",
    "",
]


def test_every_milestone_has_a_real_line() -> None:
    assert len(REAL_LINES) == len(MILESTONES)


@pytest.mark.parametrize(("line", "stage", "pct"), REAL_LINES)
def test_stage_of_real_lines(line: str, stage: str, pct: float) -> None:
    assert stage_of(line) == (stage, pct)


def test_stage_of_older_main_prefix() -> None:
    assert stage_of("main: model loaded") == ("model loaded", 97.0)


@pytest.mark.parametrize("line", NOISE)
def test_stage_of_ignores_other_lines(line: str) -> None:
    assert stage_of(line) is None


def test_milestone_floors_increase_in_load_order() -> None:
    floors = [pct for _, _, pct in MILESTONES]
    assert floors == sorted(floors)
    assert len(set(floors)) == len(floors)


def test_tracker_walks_the_real_log() -> None:
    tracker = ProgressTracker()
    assert (tracker.stage, tracker.floor) == (STARTING, 0.0)
    for line, stage, pct in REAL_LINES:
        assert tracker.feed(line) is True
        assert (tracker.stage, tracker.floor) == (stage, pct)
        assert tracker.feed(line) is False  # the same line again moves nothing
    for line in NOISE:
        assert tracker.feed(line) is False


def test_tracker_never_goes_backwards() -> None:
    tracker = ProgressTracker()
    tracker.feed(REAL_LINES[6][0])  # warming up, 90
    assert tracker.floor == 90.0
    for line, _, _ in REAL_LINES[:6]:
        assert tracker.feed(line) is False
    assert (tracker.stage, tracker.floor) == ("warming up", 90.0)
    assert tracker.progress(0.0).pct == 90.0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([line for line, _, _ in REAL_LINES] + NOISE), st.floats(0, 50)),
        max_size=30,
    ),
    st.lists(st.floats(min_value=0, max_value=500), max_size=8),
)
def test_progress_is_monotonic_and_below_100(
    steps: list[tuple[str, float]], history: list[float]
) -> None:
    tracker = ProgressTracker(history)
    elapsed = 0.0
    last = tracker.progress(elapsed).pct
    for line, dt in steps:
        tracker.feed(line)
        elapsed += dt
        now = tracker.progress(elapsed)
        assert now.pct >= last
        assert 0.0 <= now.pct <= 99.0
        if now.eta is not None:
            assert now.eta >= 0.0
        last = now.pct


def test_expected_duration_is_median_of_last_five() -> None:
    assert expected_duration([]) is None
    assert expected_duration([10.0]) == 10.0
    assert expected_duration([1000.0, 1000.0, 10.0, 20.0, 30.0, 40.0, 50.0]) == 30.0
    assert expected_duration([10.0, 20.0, 30.0, 40.0]) == 25.0
    # failed loads recorded as 0 do not count
    assert expected_duration([0.0, 0.0, 0.0]) is None
    assert expected_duration([100.0, 0.0, 20.0, 0.0, 40.0]) == 40.0


def test_eta_from_history() -> None:
    tracker = ProgressTracker([30.0, 50.0, 40.0])  # median 40 s
    assert tracker.expected == 40.0
    at10 = tracker.progress(10.0)
    assert at10.eta == 30.0
    assert at10.pct == 25.0  # time says 25%, no milestone yet
    assert at10.stage == STARTING
    tracker.feed(REAL_LINES[3][0])  # tensors loaded: floor 70 beats time's 25
    assert tracker.progress(10.0).pct == 70.0
    assert tracker.progress(36.0).pct == 90.0  # time is ahead of the floor now
    assert tracker.progress(36.0).eta == pytest.approx(4.0)


def test_pct_capped_at_99_before_ready() -> None:
    tracker = ProgressTracker([10.0])
    late = tracker.progress(1000.0)
    assert late.pct == 99.0
    assert late.eta == 0.0
    tracker.feed(REAL_LINES[-1][0])
    assert tracker.progress(1000.0).pct == 99.0


def test_no_history_no_eta_and_only_milestones() -> None:
    tracker = ProgressTracker()
    assert tracker.expected is None
    p = tracker.progress(1000.0)
    assert (p.pct, p.eta, p.elapsed) == (0.0, None, 1000.0)
    tracker.feed(REAL_LINES[2][0])
    assert tracker.progress(1000.0).pct == 25.0


def test_describe() -> None:
    assert Progress("loading tensors", 42.4, 3.0, 12.4).describe() == "loading tensors 42% ETA 12s"
    assert Progress("warming up", 90.0, 3.0, None).describe() == "warming up 90%"
