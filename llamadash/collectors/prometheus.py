"""A small, tolerant parser for the Prometheus text exposition format."""

from __future__ import annotations

import math
import re

__all__ = ["parse_prometheus"]

# name, optional {labels} (label values may hold spaces or braces inside quotes), value.
_SAMPLE = re.compile(
    r"""^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\s*
        (?P<labels>\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s*
        (?P<value>\S+)(?:\s+\S+)?\s*$""",
    re.VERBOSE,
)


def _value(text: str) -> float | None:
    lowered = text.lower()
    if lowered in ("+inf", "inf"):
        return math.inf
    if lowered == "-inf":
        return -math.inf
    try:
        return float(text)
    except ValueError:
        return None


def parse_prometheus(text: str) -> dict[str, float]:
    """Parse Prometheus text into ``{name: value}``.

    Comments (``# HELP``, ``# TYPE``), blank and malformed lines are skipped. A labelled
    sample is stored under its full ``name{labels}`` text and, for the first sample of that
    name, under the bare name too. NaN values are skipped.

    Args:
        text: The body of a ``/metrics`` response.

    Returns:
        The samples, by metric name.
    """
    samples: dict[str, float] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            continue
        value = _value(match["value"])
        if value is None or math.isnan(value):
            continue
        name, labels = match["name"], match["labels"]
        if labels and labels != "{}":
            samples[name + labels] = value
            samples.setdefault(name, value)
        else:
            samples[name] = value
    return samples
