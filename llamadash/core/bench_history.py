"""Every ``llamadash bench`` result, kept in the state dir, and the regressions they show.

One JSON object per line in ``<state_dir>/bench/history.jsonl``: appending never rewrites
an older result, and a line cut short by a crash is skipped, not fatal. A result is
compared with the last one of the same model file and arguments (:func:`args_hash`, which
also covers the file's size and mtime): a build, driver or flag change shows as a drop.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["REGRESSION", "BenchHistory", "BenchResult", "Figure", "regressions", "stated_speed"]

REGRESSION = 0.10
"""A median this much below the last comparable one is flagged as a regression."""


@dataclass(frozen=True)
class Figure:
    """Tokens per second over the repetitions: the median and the lowest and highest."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Figure:
        """The figure of at least one sample."""
        return cls(round(statistics.median(samples), 2), min(samples), max(samples))

    @property
    def spread(self) -> float:
        """(highest - lowest) / median, in percent."""
        return 100.0 * (self.high - self.low) / self.median if self.median else 0.0

    def describe(self) -> str:
        """``598.7 ±8%``: the median, ± half the spread."""
        return f"{self.median:.1f} ±{self.spread / 2:.0f}%"


@dataclass(frozen=True)
class BenchResult:
    """One profile measured once (``repeats`` requests)."""

    profile: str
    at: float
    """Unix time of the measurement."""
    model: str
    """The model file's name."""
    args_hash: str
    build: str
    """The llama-server build (``/props`` ``build_info``), or ``unknown``."""
    load_seconds: float | None
    """How long its start took; None when it was not started for this run."""
    prompt_tokens: int
    gen_tokens: int
    prompt: Figure
    """Prompt processing, tokens/s."""
    gen: Figure
    """Generation, tokens/s."""
    repeats: int
    speed_text: str = ""
    """The profile's own ``speed`` text when it was measured."""
    binary: str = ""
    """The llama-server binary measured, when known: builds from source all name themselves
    ``b0-unknown``, so the path (its version folder) is what tells two builds apart."""

    @property
    def below_promise(self) -> bool:
        """Generation more than REGRESSION below the tokens/s the profile's speed text names."""
        promised = stated_speed(self.speed_text)
        return promised is not None and self.gen.median < promised * (1 - REGRESSION)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the line stored)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchResult:
        """Read a stored line back.

        Raises:
            KeyError, TypeError, ValueError: not a result.
        """
        fields = dict(data)
        fields["prompt"] = Figure(**fields["prompt"])
        fields["gen"] = Figure(**fields["gen"])
        return cls(**fields)


class BenchHistory:
    """The results file of one state dir."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> BenchHistory:
        """The history under ``state_dir``."""
        return cls(state_dir / "bench" / "history.jsonl")

    def results(self) -> list[BenchResult]:
        """Every stored result, oldest first (lines that are not results skipped)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        found = []
        for line in lines:
            try:
                found.append(BenchResult.from_dict(json.loads(line)))
            except (KeyError, TypeError, ValueError):
                continue  # cut short by a crash, or written by a newer llamadash
        return found

    def last_like(self, result: BenchResult) -> BenchResult | None:
        """The newest stored result with the same arguments and model file as ``result``."""
        same = [r for r in self.results() if r.args_hash == result.args_hash]
        return same[-1] if same else None

    def last_of(self, profile_id: str) -> BenchResult | None:
        """The newest stored result of a profile (whatever its arguments were then)."""
        mine = [r for r in self.results() if r.profile == profile_id]
        return mine[-1] if mine else None

    def add(self, result: BenchResult) -> tuple[BenchResult | None, list[str]]:
        """Store ``result``; the last comparable one before it and what regressed since."""
        previous = self.last_like(result)
        self.append(result)
        return previous, regressions(result, previous)

    def append(self, result: BenchResult) -> None:
        """Store one more result (one line appended; nothing older is rewritten)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(result.to_dict(), sort_keys=True) + "\n")


def regressions(new: BenchResult, old: BenchResult | None) -> list[str]:
    """What dropped more than REGRESSION from ``old`` to ``new``, one line each."""
    if old is None:
        return []
    found = []
    for label, now, before in (
        ("prompt", new.prompt.median, old.prompt.median),
        ("generation", new.gen.median, old.gen.median),
    ):
        if before > 0 and now < before * (1 - REGRESSION):
            drop = 100.0 * (before - now) / before
            changed = " → ".join(dict.fromkeys(x for x in (old.binary, new.binary) if x))
            found.append(
                f"{label} {now:.1f} tokens/s is {drop:.0f}% below {before:.1f}"
                f" (build {old.build}{f'; {changed}' if changed else ''})"
            )
    return found


_SPEED = re.compile(r"(\d+(?:\.\d+)?)\s*(?:t|tok|tokens)\s*/\s*s", re.IGNORECASE)


def stated_speed(text: str) -> float | None:
    """The tokens/s a profile's ``speed`` text promises (``~95 t/s`` → 95.0), if it says."""
    found = _SPEED.search(text)
    return float(found.group(1)) if found else None
