"""The fixed-bucket histogram behind llamadash_switch_duration_seconds."""

from __future__ import annotations

import bisect
import pickle
import random

import pytest

from llamadash.core.histogram import Histogram
from llamadash.core.instance import DURATION_BUCKETS, SwitchStats


def reference(values: list[float], bounds: tuple[float, ...]) -> list[tuple[float, int]]:
    """What /metrics printed when it kept every value: values <= bound, per bound."""
    ordered = sorted(values)
    return [(b, bisect.bisect_right(ordered, b)) for b in (*bounds, float("inf"))]


def test_buckets_match_keeping_every_value() -> None:
    rng = random.Random(7)
    # Exact bounds too: ``le`` is inclusive, so 1.0 belongs to the le="1" bucket.
    values = [0.0, 0.5, 1.0, 600.0, 600.5, 1e9] + [rng.uniform(0, 900) for _ in range(500)]
    hist = Histogram(DURATION_BUCKETS)
    for value in values:
        hist.observe(value)
    assert hist.cumulative() == reference(values, DURATION_BUCKETS)
    assert hist.count == len(values)
    assert hist.sum == pytest.approx(sum(values), rel=1e-12)


def test_empty_histogram_has_zero_buckets() -> None:
    hist = Histogram((1, 2))
    assert hist.cumulative() == [(1, 0), (2, 0), (float("inf"), 0)]
    assert (hist.count, hist.sum) == (0, 0.0)


def test_switch_stats_do_not_grow_with_switches() -> None:
    """Regression: durations was a list that gained a float per switch, forever."""
    stats = SwitchStats()
    for _ in range(10):
        stats.durations.observe(3.0)
    small = len(pickle.dumps(stats))
    for _ in range(100_000):
        stats.durations.observe(3.0)
    # Only the counters' integers widen (a few bytes); a kept list would add ~900 kB.
    assert len(pickle.dumps(stats)) - small < 64
    assert stats.durations.count == 100_010


@pytest.mark.parametrize("bounds", [(1, 1), (2, 1), (0.5, 1, 0.7)])
def test_bounds_must_ascend(bounds: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="strictly ascending"):
        Histogram(bounds)
