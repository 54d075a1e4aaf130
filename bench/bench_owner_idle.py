"""CPU of an idle owner (``llamadash serve``) with N instances, against 1 instance (same run).

What runs in the background of every owner, dashboard or not: the watch of each instance
beside the foreground one (a crash is an event), the idle watch (activity, ttl, least recently
used) and, with ``serve``, the foreground's own watch. Nothing asks the API meanwhile.
Prepares N tiny servers on the test engine (compose; ``--runtime process``: children), starts
``llamadash serve`` on them, measures its CPU (psutil, all threads) over ``--seconds`` after
a warm-up; then stops the N-1 beside the foreground and measures a fresh ``serve`` again.
Prints both, their difference per extra instance, and ``--rounds`` repeats' medians.

    python bench/bench_owner_idle.py [--instances 4] [--seconds 30] [--rounds 2]
                                     [--runtime compose|process]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from bench_cli import LLAMADASH, user_env, wait_listening
from bench_ui_cpu import WARMUP, cleanup, cpu_percent, prepare


def serve_cpu(conf: Path, seconds: float) -> float:
    """CPU % of one core of a fresh ``llamadash serve`` over ``seconds``, after the warm-up."""
    from llamadash.core.profiles import load_profiles
    from llamadash.core.settings import load_settings

    api_port = load_settings(load_profiles(conf)).api_port
    serve = subprocess.Popen(
        [str(LLAMADASH), "--models-conf", str(conf), "serve"],
        env=user_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(api_port, serve)
        time.sleep(WARMUP)  # adoption, the first looks
        return cpu_percent(psutil.Process(serve.pid), seconds)
    finally:
        serve.terminate()
        serve.wait(30)


def stop_beside(conf: Path) -> None:
    """Stop every instance but the foreground one (they keep running after ``prepare``)."""
    from llamadash.core.context import build_engine

    engine = build_engine(conf)

    async def run() -> None:
        await engine.pool.adopt(watch=False)
        for instance in engine.pool.instances():
            if instance is not engine.pool.foreground and instance.profile_id:
                await engine.pool.stop(instance.profile_id)
        await engine.pool.aclose()

    asyncio.run(run())


def one_round(instances: int, seconds: float, runtime: str) -> tuple[float, float]:
    """(CPU % with ``instances``, CPU % with the foreground alone)."""
    with tempfile.TemporaryDirectory(prefix="ldbench-owner-", ignore_cleanup_errors=True) as tmp:
        conf, project = prepare(Path(tmp), instances, runtime=runtime)
        try:
            many = serve_cpu(conf, seconds)
            stop_beside(conf)
            one = serve_cpu(conf, seconds)
        finally:
            stop_all(conf)
            cleanup(project)
    return many, one


def stop_all(conf: Path) -> None:
    from llamadash.core.context import build_engine

    engine = build_engine(conf)

    async def run() -> None:
        await engine.pool.adopt(watch=False)
        await engine.pool.stop(None)
        await engine.pool.aclose()

    asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--runtime", choices=("compose", "process"), default="compose")
    args = parser.parse_args()
    results = [one_round(args.instances, args.seconds, args.runtime) for _ in range(args.rounds)]
    many = [m for m, _ in results]
    one = [o for _, o in results]
    print(
        f"idle llamadash serve, {args.runtime} runtime, {args.seconds:.0f} s per measure,"
        f" {args.rounds} round(s), {psutil.cpu_count()} CPUs; % of one core"
    )
    print(f"{'instances':<12}{'median':>8}{'min':>8}{'max':>8}")
    for label, values in ((str(args.instances), many), ("1", one)):
        print(f"{label:<12}{statistics.median(values):>8.3f}{min(values):>8.3f}{max(values):>8.3f}")
    extra = (statistics.median(many) - statistics.median(one)) / max(1, args.instances - 1)
    print(f"each instance beside the foreground adds {extra:.3f} points (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
