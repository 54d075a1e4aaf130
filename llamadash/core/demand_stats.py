"""What the OpenAI-compatible endpoint served, per profile: requests, tokens, waits, first token.

Kept by the API's proxy, read by /metrics and the dashboard's server pane (requests per minute
and the median wait of the last minute), in the same process.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from dataclasses import dataclass, field

from llamadash.core.histogram import Histogram

WAIT_BUCKETS: tuple[float, ...] = (0.005, 0.05, 0.25, 1, 2.5, 5, 10, 30, 60, 120)
FIRST_TOKEN_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
RECENT_SECONDS = 60.0


@dataclass
class ProfileTraffic:
    """One profile's counters since llamadash started."""

    requests: dict[int, int] = field(default_factory=dict)
    """Answers by HTTP status."""
    tokens_in: int = 0
    tokens_out: int = 0
    waits: Histogram = field(default_factory=lambda: Histogram(WAIT_BUCKETS))
    first_token: Histogram = field(default_factory=lambda: Histogram(FIRST_TOKEN_BUCKETS))
    recent: deque[tuple[float, float]] = field(default_factory=deque)
    """(monotonic time, seconds waited) of the answers of the last minute."""


@dataclass(frozen=True)
class TrafficSummary:
    """The dashboard's line about one profile's traffic."""

    per_minute: int
    wait_p50: float | None


class DemandStats:
    """Counters per profile, fed by the proxy as answers finish."""

    def __init__(self) -> None:
        self.profiles: dict[str, ProfileTraffic] = {}

    def answered(
        self,
        profile_id: str,
        status: int,
        *,
        waited: float,
        first_byte: float | None,
        tokens: tuple[int, int] | None,
    ) -> None:
        """Count one answer: its status, the wait for its model, time to its first byte."""
        traffic = self.profiles.setdefault(profile_id, ProfileTraffic())
        traffic.requests[status] = traffic.requests.get(status, 0) + 1
        traffic.waits.observe(waited)
        if first_byte is not None and status < 400:
            traffic.first_token.observe(first_byte)
        if tokens is not None:
            traffic.tokens_in += tokens[0]
            traffic.tokens_out += tokens[1]
        now = time.monotonic()
        traffic.recent.append((now, waited))
        while traffic.recent and now - traffic.recent[0][0] > RECENT_SECONDS:
            traffic.recent.popleft()

    def summary(self, profile_id: str) -> TrafficSummary | None:
        """Requests of the last minute and their median wait (None: never asked for)."""
        traffic = self.profiles.get(profile_id)
        if traffic is None:
            return None
        now = time.monotonic()
        recent = [wait for at, wait in traffic.recent if now - at <= RECENT_SECONDS]
        return TrafficSummary(len(recent), statistics.median(recent) if recent else None)
