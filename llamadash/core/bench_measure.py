"""Measure a running llama-server's speed from its own ``timings``.

Each repetition is one ``/completion`` request: a prompt of exactly ``prompt_tokens`` token
ids (made with the server's own ``/tokenize``), prompt caching off so every repetition
processes the whole prompt, then ``gen_tokens`` generated with end-of-sequence ignored so
each one generates them all. The server reports both speeds of that one request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llamadash.core.bench_history import BenchResult, Figure
from llamadash.core.http_stream import LoopbackHttpError, get_json, post_json
from llamadash.core.memory_book import profile_key
from llamadash.core.profiles import Profile

__all__ = ["BenchError", "Measured", "bench_profile", "measure", "server_build"]

PROMPT_TOKENS = 512
GEN_TOKENS = 128
REPEATS = 3
# Plain words tokenize to many tokens in any vocabulary; repeated until there are enough.
_TEXT = (
    "The quick brown fox jumps over the lazy dog while the river runs past old stone bridges "
    "and seven wise owls count the stars above a quiet village at the edge of the forest. "
)


class BenchError(Exception):
    """The server could not be measured (no answer, an error, or no timings)."""


@dataclass(frozen=True)
class Measured:
    """The speeds of one profile over its repetitions."""

    prompt: Figure
    gen: Figure
    prompt_tokens: int
    gen_tokens: int
    repeats: int


def measure(
    url: str,
    *,
    prompt_tokens: int = PROMPT_TOKENS,
    gen_tokens: int = GEN_TOKENS,
    repeats: int = REPEATS,
    on_repeat: Callable[[int, dict[str, Any]], None] | None = None,
) -> Measured:
    """Run ``repeats`` requests against the server at ``url``.

    A slot context smaller than the prompt and the answer shortens both (the counts
    measured are in the result); ``on_repeat`` gets each repetition's timings.

    Raises:
        BenchError: no answer, an error answer, or no timings in it.
    """
    slot_ctx = _slot_context(url)
    if slot_ctx is not None and prompt_tokens + gen_tokens + 8 > slot_ctx:
        share = max(slot_ctx - 8, 2)
        gen_tokens = max(1, min(gen_tokens, share // 5))
        prompt_tokens = max(1, min(prompt_tokens, share - gen_tokens))
    tokens = _tokens(url, prompt_tokens)
    prompt_rates, gen_rates, counts = [], [], (0, 0)
    for repeat in range(max(1, repeats)):
        shifted = tokens[repeat:] + tokens[:repeat]  # a different prompt each time, same length
        timings = _one(url, shifted, gen_tokens)
        prompt_rates.append(float(timings["prompt_per_second"]))
        gen_rates.append(float(timings["predicted_per_second"]))
        counts = (int(timings["prompt_n"]), int(timings["predicted_n"]))
        if on_repeat is not None:
            on_repeat(repeat, timings)
    return Measured(Figure.of(prompt_rates), Figure.of(gen_rates), *counts, max(1, repeats))


def bench_profile(
    profile: Profile,
    models_dir: Path,
    url: str,
    *,
    load_seconds: float | None,
    repeats: int = REPEATS,
    on_repeat: Callable[[int, dict[str, Any]], None] | None = None,
    binary: str = "",
) -> BenchResult:
    """Measure ``profile``'s ready server at ``url``: the result to keep (not yet stored).

    ``load_seconds``: how long its start took, None when it was not started for this;
    ``binary``: the llama-server it runs, when known.

    Raises:
        BenchError: no answer, an error answer, or no timings in it.
    """
    measured = measure(url, repeats=repeats, on_repeat=on_repeat)
    try:
        key = profile_key(profile, models_dir)
    except (OSError, ValueError):  # the file went away meanwhile: nothing to compare with
        key = "unknown"
    return BenchResult(
        profile=profile.id,
        at=round(time.time(), 3),
        model=profile.model_path(models_dir).name,
        args_hash=key,
        build=server_build(url),
        load_seconds=None if load_seconds is None else round(load_seconds, 3),
        prompt_tokens=measured.prompt_tokens,
        gen_tokens=measured.gen_tokens,
        prompt=measured.prompt,
        gen=measured.gen,
        repeats=measured.repeats,
        speed_text=profile.speed,
        binary=binary,
    )


def server_build(url: str) -> str:
    """The build the server names in ``/props`` (``build_info``), else ``unknown``."""
    try:
        code, props = get_json(url, "/props")
    except LoopbackHttpError:
        return "unknown"
    if code == 200 and isinstance(props, dict) and props.get("build_info"):
        return str(props["build_info"])
    return "unknown"


def _slot_context(url: str) -> int | None:
    try:
        code, props = get_json(url, "/props")
    except LoopbackHttpError as exc:
        raise BenchError(f"no answer from {url}/props: {exc}") from None
    settings = props.get("default_generation_settings") if isinstance(props, dict) else None
    n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
    return n_ctx if code == 200 and isinstance(n_ctx, int) and n_ctx > 0 else None


def _tokens(url: str, count: int) -> list[int]:
    text = _TEXT * (count // 8 + 1)  # far more than one token per eight characters
    try:
        code, data = post_json(url, "/tokenize", {"content": text, "add_special": False})
    except LoopbackHttpError as exc:
        raise BenchError(f"no answer from {url}/tokenize: {exc}") from None
    tokens = data.get("tokens") if code == 200 and isinstance(data, dict) else None
    if not isinstance(tokens, list) or len(tokens) < count:
        raise BenchError(f"{url}/tokenize answered {code} without {count} tokens")
    return [int(t) for t in tokens[:count]]


def _one(url: str, tokens: list[int], gen_tokens: int) -> dict[str, Any]:
    body = {
        "prompt": tokens,
        "n_predict": gen_tokens,
        "ignore_eos": True,
        "cache_prompt": False,
        "stream": False,
    }
    try:
        code, data = post_json(url, "/completion", body)
    except LoopbackHttpError as exc:
        raise BenchError(f"no answer from {url}/completion: {exc}") from None
    timings = data.get("timings") if isinstance(data, dict) else None
    if code != 200 or not isinstance(timings, dict):
        error = data.get("error") if isinstance(data, dict) else data
        raise BenchError(f"{url}/completion answered {code}: {error}")
    needed = ("prompt_per_second", "predicted_per_second", "prompt_n", "predicted_n")
    if any(not isinstance(timings.get(key), int | float) for key in needed):
        raise BenchError(f"{url}/completion gave no usable timings: {timings}")
    return timings
