"""A fixed-bucket histogram whose memory does not grow with the number of values it sees.

The dashboard can run for months; keeping every switch duration to rebuild a Prometheus
histogram at each scrape would grow a float per switch forever. A Prometheus histogram only
exposes per-bucket counts, the count and the sum, so those are all that is kept.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable


class Histogram:
    """Counts of observed values per ``le`` bucket, plus their count and sum.

    Args:
        bounds: the buckets' upper bounds, strictly ascending; a ``+Inf`` bucket is implied.

    Raises:
        ValueError: the bounds are not strictly ascending.
    """

    def __init__(self, bounds: Iterable[float]) -> None:
        self.bounds: tuple[float, ...] = tuple(bounds)
        if any(b <= a for a, b in zip(self.bounds, self.bounds[1:], strict=False)):
            raise ValueError(f"histogram bounds must be strictly ascending: {self.bounds}")
        # One slot per bound plus the +Inf overflow slot; not cumulative (see cumulative()).
        self._counts = [0] * (len(self.bounds) + 1)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        """Count ``value`` in the first bucket whose bound is >= it (``le`` is inclusive)."""
        self._counts[bisect.bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.sum += value

    def cumulative(self) -> list[tuple[float, int]]:
        """``(upper bound, values <= bound)`` per bucket, ending with ``(+Inf, count)``."""
        running = 0
        out: list[tuple[float, int]] = []
        for bound, count in zip((*self.bounds, float("inf")), self._counts, strict=True):
            running += count
            out.append((bound, running))
        return out
