"""What a kept prompt cache buys after a switch back, and what saving it costs, in one run.

Process runtime, real Gemma 3 270M (one 4k slot, ``--swa-full``) and the tiny model. Per
round and variant — ``keep`` (keep_cache = true) and ``cold`` (keep_cache = false, otherwise
the same) — switch to Gemma, send a 1,502-token prompt, switch to tiny (timed: a ``keep``
stop saves the slot first), switch back, send the same prompt again (timed: the time to its
first token). Rounds alternate the order of the variants (machines are noisy).

Targets: time to first token after the switch back, keep ÷ cold <= 0.2; the switch away,
keep ÷ cold - 1 <= 10 % (what the save adds to a switch).

    python bench/bench_kv_cache.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from llamadash.core.context import Engine, build_engine

PROMPT = "The quick brown fox jumps over the lazy dog. " * 150
CONF = """\
[llamadash]
runtime = process
models_dir = {dir}
port = {port}
project_name = ldbench-kv-{pid}
state_dir = {dir}/state

[tiny]
model = tiny.gguf
ctx = 256

[keep]
model = {gemma}
ctx = 4096
parallel = 1
threads = 2
extra = --swa-full

[cold]
model = {gemma}
ctx = 4096
parallel = 1
threads = 2
extra = --swa-full
keep_cache = false
"""


def first_token_ms(engine: Engine) -> tuple[float, int]:
    """Wall ms until the first streamed token of the long prompt, and its cache_n."""
    began = time.perf_counter()
    first = 0.0
    cached = -1
    body = {"prompt": PROMPT, "n_predict": 4, "cache_prompt": True, "stream": True}
    with httpx.stream(
        "POST", f"{engine.switcher.endpoint}/completion", json=body, timeout=300
    ) as reply:
        for line in reply.iter_lines():
            if line.startswith("data: ") and not first:
                first = 1000 * (time.perf_counter() - began)
            if '"timings"' in line:
                cached = int(json.loads(line[6:]).get("timings", {}).get("cache_n", -1))
    return first, cached


async def round_of(engine: Engine, variant: str) -> tuple[float, float, int]:
    """(switch-away ms, first-token ms after the switch back, cache_n) for one variant."""
    assert (await engine.pool.switch(variant)).ok
    await asyncio.to_thread(first_token_ms, engine)  # the cold read that fills the slot
    began = time.perf_counter()
    assert (await engine.pool.switch("tiny")).ok
    away = 1000 * (time.perf_counter() - began)
    assert (await engine.pool.switch(variant)).ok
    ttft, cached = await asyncio.to_thread(first_token_ms, engine)
    return away, ttft, cached


async def run(rounds: int) -> int:
    from tests.support.tiny_gguf import write_tiny_gguf

    gemma = Path.home() / ".cache" / "llamadash" / "models" / "gemma-3-270m-Q4_K_M.gguf"
    if not gemma.is_file():
        raise SystemExit(f"no {gemma}: run `make testbed` first")
    with tempfile.TemporaryDirectory(prefix="ldbench-kv-") as tmp:
        write_tiny_gguf(Path(tmp) / "tiny.gguf")
        conf = Path(tmp) / "models.conf"
        conf.write_text(CONF.format(dir=tmp, port=18760, pid=os.getpid(), gemma=gemma))
        engine = build_engine(conf)
        results: dict[str, list[tuple[float, float, int]]] = {"keep": [], "cold": []}
        try:
            for n in range(rounds):
                order = ("keep", "cold") if n % 2 == 0 else ("cold", "keep")
                for variant in order:
                    results[variant].append(await round_of(engine, variant))
                    print(f"  round {n + 1}/{rounds} {variant}: {results[variant][-1]}")
        finally:
            await engine.pool.stop()
            await engine.pool.aclose()
    away = {v: statistics.median(r[0] for r in rows) for v, rows in results.items()}
    ttft = {v: statistics.median(r[1] for r in rows) for v, rows in results.items()}
    cached = {v: min(r[2] for r in rows) for v, rows in results.items()}
    print(f"{'variant':<8}{'switch away ms':>16}{'first token ms':>16}{'cache_n (min)':>15}")
    for variant in ("cold", "keep"):
        print(f"{variant:<8}{away[variant]:>16.0f}{ttft[variant]:>16.0f}{cached[variant]:>15}")
    ratio = ttft["keep"] / ttft["cold"]
    added = away["keep"] / away["cold"] - 1
    print(f"first token after the switch back, keep / cold: {ratio:.3f} (target <= 0.2)")
    print(f"what the save adds to the switch away: {added:+.1%} (target <= +10%)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    return asyncio.run(run(parser.parse_args().rounds))


if __name__ == "__main__":
    sys.exit(main())
