"""llama-server log line → load stage; percentage and ETA from stages and past load times.

llama-server prints no percentage in single-model mode, so progress is derived: each
milestone line sets a floor, and elapsed time against this profile's previous loads moves
the estimate between milestones.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

# (substring in the log line, stage label, percentage floor once seen), in load order.
MILESTONES: tuple[tuple[str, str, float], ...] = (
    ("load_model: loading model", "opening model file", 5.0),
    ("llama_model_loader: loaded meta data", "reading metadata", 15.0),
    ("load_tensors: loading model tensors", "loading tensors", 25.0),
    ("model buffer size", "tensors loaded", 70.0),
    ("llama_context:", "initialising context", 80.0),
    ("initializing, n_slots", "initialising context", 85.0),
    ("warming up the model", "warming up", 90.0),
    ("model loaded", "model loaded", 97.0),
    ("listening on", "listening", 99.0),
)
STARTING = "starting process"


@dataclass(frozen=True)
class Progress:
    """Where a load stands."""

    stage: str
    pct: float
    elapsed: float
    eta: float | None
    """Seconds left, from previous loads of this profile (None: no history yet)."""

    def describe(self) -> str:
        """e.g. ``loading tensors 42% ETA 12s``."""
        eta = f" ETA {self.eta:.0f}s" if self.eta is not None else ""
        return f"{self.stage} {self.pct:.0f}%{eta}"


def stage_of(line: str) -> tuple[str, float] | None:
    """The milestone a log line marks, or None."""
    for needle, stage, pct in MILESTONES:
        if needle in line:
            return stage, pct
    return None


def expected_duration(history: Sequence[float]) -> float | None:
    """The typical load time of a profile from its recent loads (median of the last 5)."""
    recent = [t for t in history[-5:] if t > 0]
    return statistics.median(recent) if recent else None


class ProgressTracker:
    """Folds log lines and elapsed time into a Progress."""

    def __init__(self, history: Sequence[float] = ()) -> None:
        self.expected = expected_duration(history)
        self.stage = STARTING
        self.floor = 0.0

    def feed(self, line: str) -> bool:
        """Take one log line; True if it moved the stage forward."""
        found = stage_of(line)
        if found is None or found[1] <= self.floor:
            return False
        self.stage, self.floor = found
        return True

    def progress(self, elapsed: float) -> Progress:
        """The estimate ``elapsed`` seconds into the load."""
        pct = self.floor
        eta = None
        if self.expected:
            pct = max(pct, min(99.0, 100.0 * elapsed / self.expected))
            eta = max(0.0, self.expected - elapsed)
        return Progress(self.stage, pct, elapsed, eta)
