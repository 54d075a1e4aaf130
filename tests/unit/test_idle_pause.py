"""The idle watch's pause between looks: short after activity, long while quiet, bounded by ttl."""

from __future__ import annotations

import pytest

from llamadash.core.idle import QUIET_LOOK_SECONDS, look_pause


@pytest.mark.parametrize(
    ("quiet_looks", "ttls", "pause"),
    [
        (0, [], 1.0),  # activity seen at the last look
        (1, [], 2.0),
        (3, [], 8.0),
        (30, [], QUIET_LOOK_SECONDS),  # no overflow, and the cap
        (30, [(300.0, 250.0)], QUIET_LOOK_SECONDS),  # a long ttl far from its end
        (30, [(40.0, 30.0)], 4.0),  # a tenth of the ttl: a use is seen at most 4 s late
        (30, [(300.0, 2.5)], 2.5),  # never past the moment the ttl runs out
        (30, [(300.0, 0.0)], 1.0),  # run out: looked at every second until stopped
        (30, [(1.0, 0.7)], 1.0),  # a ttl of a second: every second, as before
        (30, [(300.0, 250.0), (20.0, 15.0)], 2.0),  # the shortest ttl decides
    ],
)
def test_the_pause(quiet_looks: int, ttls: list[tuple[float, float]], pause: float) -> None:
    assert look_pause(quiet_looks, 1.0, ttls) == pytest.approx(pause)
