"""What the /v1 proxy adds over talking to llama-server directly, and what batching saves.

1. Latency: ``--clients`` concurrent clients each send 1-token completions (``/completion``,
   ``n_predict: 1``), alternating rounds straight to llama-server and through ``llamadash
   serve``'s /completion (a separate process, as a user runs it). Added latency p50/p99 =
   proxied − direct of the same run. Goal: ≤ 1 ms p50, ≤ 3 ms p99. Beside it, the CPU each
   request costs the ``serve`` process (its user + system time over the proxied rounds, less
   its idle share measured over the direct ones), llama-server and this client, and the
   latency those imply when every core is busy: a closed loop of N clients on C saturated
   cores waits about N × CPU per request / C (Little's law), so the proxy's floor is
   N × its CPU per request / C — on a small machine the goal can only be met by less CPU.
2. Streaming: one client streams ``--tokens`` tokens, direct and proxied; tokens/s ratio,
   for the tiny model (thousands of tokens a second: the proxy's cost per token shows) and
   Gemma 3 270M when the tests' copy is there (a real model's pace). Goal ≥ 0.98.
3. Interleaved A B A B… (12 requests, two profiles, max_instances = 1): total time and swaps
   with the router's policy against plain FIFO (serve strictly in arrival order), in-process.

The client is the proxy's own HTTP/1.1 client (api/upstream.py) on both sides, so it costs
the same either way. Loopback only; every server it starts is stopped.

    python bench/bench_proxy.py [--clients 64] [--requests 20] [--rounds 3] [--tokens 400]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llamadash.api.server import ApiServer
from llamadash.api.upstream import UpstreamPool
from llamadash.core.context import build_engine
from llamadash.core.demand import DemandRouter
from tests.e2e.conftest import write_conf
from tests.support.tiny_gguf import write_tiny_gguf

GOAL_P50_MS, GOAL_P99_MS, GOAL_STREAM = 1.0, 3.0, 0.98
# Gemma 3 270M where the tests keep it: streamed at a real model's pace when present.
GEMMA = Path.home() / ".cache" / "llamadash" / "models" / "gemma-3-270m-Q4_K_M.gguf"
JSON = {"content-type": "application/json"}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def one(client: UpstreamPool, port: int, path: str, body: bytes) -> int:
    answer = await client.send("127.0.0.1", port, "POST", path, headers=JSON, body=body)
    async for _ in answer.body():
        pass
    return answer.head.status


async def latency_round(port: int, clients: int, requests: int) -> list[float]:
    """Seconds per request of ``clients`` concurrent clients, ``requests`` each."""
    body = b'{"model": "tiny", "prompt": "hi", "n_predict": 1, "cache_prompt": false}'
    seen: list[float] = []

    async def client() -> None:
        pool = UpstreamPool()
        for _ in range(requests):
            began = time.perf_counter()
            status = await one(pool, port, "/completion", body)
            seen.append(time.perf_counter() - began)
            assert status == 200, status
        pool.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return seen


@dataclass
class CpuSpent:
    """CPU seconds per process over one side's latency rounds, and their wall time."""

    wall: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)


def cpu_seconds(processes: dict[str, psutil.Process]) -> dict[str, float]:
    """User + system seconds of each process so far (this one's own: ``client``)."""
    seen = {}
    for name, process in processes.items():
        times = process.cpu_times()
        seen[name] = times.user + times.system
    return seen


async def measured_round(
    port: int, clients: int, requests: int, processes: dict[str, psutil.Process], into: CpuSpent
) -> list[float]:
    """A latency round, its wall time and each process's CPU added to ``into``."""
    before, began = cpu_seconds(processes), time.perf_counter()
    seen = await latency_round(port, clients, requests)
    after = cpu_seconds(processes)
    into.wall += time.perf_counter() - began
    for name in processes:
        into.cpu[name] = into.cpu.get(name, 0.0) + after[name] - before[name]
    return seen


def cpu_rows(direct: CpuSpent, proxied: CpuSpent, requests: int, clients: int) -> list[str]:
    """Per-request CPU of each process, and the p50 it implies on this machine's cores."""
    cores = len(os.sched_getaffinity(0))
    idle_share = direct.cpu["serve"] * proxied.wall / direct.wall  # serve's own background
    per_request = {
        "client": direct.cpu["client"] / requests,
        "llama-server": direct.cpu["llama-server"] / requests,
        "proxy": max(0.0, proxied.cpu["serve"] - idle_share) / requests,
    }
    floor = clients * per_request["proxy"] / cores
    alone = per_request["client"] + per_request["llama-server"]
    direct_floor = clients * alone / cores
    shown = ", ".join(f"{name} {ms * 1000:.2f} ms" for name, ms in per_request.items())
    used = {side: sum(spent.cpu.values()) / spent.wall for side, spent in
            (("direct", direct), ("proxied", proxied))}  # fmt: skip
    return [
        f"  CPU per request: {shown} (proxy: llamadash serve over the proxied rounds, less its"
        f" idle share {idle_share:.2f} s)",
        f"  on {cores} saturated cores, {clients} clients: direct p50 >= {direct_floor * 1000:.2f}"
        f" ms, the proxy adds >= {floor * 1000:+.2f} ms (clients x proxy CPU / cores)",
        f"  cores these processes got: direct {used['direct']:.2f}, proxied"
        f" {used['proxied']:.2f} of {cores} (less: other load on the machine, or waits); on"
        f" those, the same law says direct {clients * alone / used['direct'] * 1000:.0f} ms,"
        f" proxied {clients * (alone + per_request['proxy']) / used['proxied'] * 1000:.0f} ms",
    ]


async def stream_rate(port: int, tokens: int, model: str) -> float:
    body = (
        b'{"model": "%s", "prompt": "hi", "stream": true, "ignore_eos": true, "n_predict": %d}'
        % (model.encode(), tokens)
    )
    pool = UpstreamPool()
    began = time.perf_counter()
    answer = await pool.send("127.0.0.1", port, "POST", "/completion", headers=JSON, body=body)
    events = 0
    async for piece in answer.body():
        events += piece.count(b"data: ")
    pool.close()
    return events / (time.perf_counter() - began)


def serve(conf: Path, api_port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    return subprocess.Popen(
        [sys.executable, "-m", "llamadash", "serve", "--models-conf", str(conf), "--runtime",
         "process", "--port", str(api_port), "--switch", "tiny"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def wait_ready(port: int, deadline: float = 60.0) -> None:
    body = b'{"model": "tiny", "prompt": "hi", "n_predict": 1}'
    end = time.monotonic() + deadline
    while True:
        try:
            if await one(UpstreamPool(), port, "/completion", body) == 200:
                return
        except Exception:
            if time.monotonic() > end:
                raise
        await asyncio.sleep(0.1)


class PlainFifo(DemandRouter):
    """The baseline: serve strictly in arrival order, swapping whenever the head differs."""

    def _may_join(self, profile_id: str) -> bool:
        return not any(self._queues.values())

    def _step(self) -> None:
        heads = sorted((w.arrived, p) for p, q in self._queues.items() for w in q)
        if not heads:
            return
        head = heads[0][1]
        ready = self.ready_instance(head)
        if ready is None:  # load it the router's way (a swap waits for requests in flight)
            super()._step()
            return
        if any(self.pool.in_flight.values()):
            return
        run = 0
        for _, profile in heads:  # the leading run of one model, no more
            if profile != head:
                break
            run += 1
        queue: deque = self._queues[head]  # type: ignore[type-arg]
        for _ in range(run):
            waiter = queue.popleft()
            self.pool.in_flight[head] += 1
            waiter.future.set_result(ready)
        self._wake.set()


async def interleaved(conf: Path, fifo: bool) -> tuple[float, int]:
    engine = build_engine(conf, {})
    if fifo:
        engine.router = PlainFifo(engine.pool)
    api = ApiServer(engine.switcher, pool=engine.pool, idle=engine.idle, router=engine.router,
                    port=0, token="")  # fmt: skip
    await api.start()
    try:
        body = b'{"model": "%s", "prompt": "hi", "n_predict": 4}'
        began = time.perf_counter()

        async def ask(index: int, model: str) -> None:
            await asyncio.sleep(index * 0.01)
            assert await one(UpstreamPool(), api.port, "/completion", body % model.encode()) == 200

        await asyncio.gather(*(ask(i, m) for i, m in enumerate(["tiny", "tiny2"] * 6)))
        return time.perf_counter() - began, sum(engine.router.swaps.values())
    finally:
        await api.stop()
        await engine.pool.stop()
        await engine.pool.aclose()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=400)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    models = work / "models"
    models.mkdir()
    write_tiny_gguf(models / "tiny.gguf", seed=0)
    if GEMMA.is_file():
        os.symlink(GEMMA, models / GEMMA.name)
    shutil.copyfile(models / "tiny.gguf", models / "tiny2.gguf")
    server_port, api_port = free_port(), free_port()
    conf = write_conf(work / "models.conf", models_dir=models, port=server_port, project="bp",
                      project_dir=work, state_dir=work / "state", runtime="process")  # fmt: skip
    with conf.open("a") as out:
        out.write("\n[tiny2]\nname = Second tiny\nmodel = tiny2.gguf\nctx = 256\nthreads = 1\n")
    owner = serve(conf, api_port)
    failed = False
    try:
        await wait_ready(api_port)
        direct: list[float] = []
        proxied: list[float] = []
        serve_process = psutil.Process(owner.pid)
        processes = {
            "client": psutil.Process(),
            "serve": serve_process,
            "llama-server": next(p for p in serve_process.children() if "llama" in p.name()),
        }
        spent = {"direct": CpuSpent(), "proxied": CpuSpent()}
        for number in range(args.rounds):  # alternate which goes first
            order = [(server_port, direct, "direct"), (api_port, proxied, "proxied")]
            for port, into, side in order if number % 2 == 0 else order[::-1]:
                into.extend(await measured_round(port, args.clients, args.requests, processes,
                                                 spent[side]))  # fmt: skip
        rows = []
        for name, share, goal in (("p50", 0.5, GOAL_P50_MS), ("p99", 0.99, GOAL_P99_MS)):
            bare, ours = percentile(direct, share) * 1000, percentile(proxied, share) * 1000
            added = ours - bare
            failed |= added > goal
            rows.append(
                f"  {name}: direct {bare:7.2f} ms  proxied {ours:7.2f} ms  added {added:+6.2f}"
                f" ms  ({ours / bare:.2f}x; goal <= +{goal:g} ms)"
            )
        print(f"1-token completions, {args.clients} clients x {args.requests} x {args.rounds}"
              f" rounds ({len(direct)} each side):")  # fmt: skip
        print("\n".join(rows))
        print("\n".join(cpu_rows(spent["direct"], spent["proxied"], len(proxied), args.clients)))
        streams = ["tiny"]
        if (models / GEMMA.name).is_file():  # a real model's pace, besides the tiny one's
            streams.append("gemma")
        for model in streams:
            if model != "tiny":  # a person's switch (requests would defer to --switch tiny)
                body = b'{"model": "%s"}' % model.encode()
                assert await one(UpstreamPool(), api_port, "/switch", body) == 200
            rates: dict[str, list[float]] = {"direct": [], "proxied": []}
            for number in range(args.rounds):
                sides = [("direct", server_port), ("proxied", api_port)]
                for side, port in sides if number % 2 == 0 else sides[::-1]:
                    rates[side].append(await stream_rate(port, args.tokens, model))
            bare, ours = statistics.median(rates["direct"]), statistics.median(rates["proxied"])
            failed |= model != "tiny" and ours / bare < GOAL_STREAM
            print(f"streamed {args.tokens} tokens of {model}: direct {bare:,.0f}/s  proxied"
                  f" {ours:,.0f}/s  ({ours / bare:.3f}x; goal >= {GOAL_STREAM})")  # fmt: skip
    finally:
        owner.terminate()
        owner.wait(10)
        subprocess.run([sys.executable, "-m", "llamadash", "stop", "all", "--models-conf",
                        str(conf), "--runtime", "process"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    ours_time, ours_swaps = await interleaved(conf, fifo=False)
    fifo_time, fifo_swaps = await interleaved(conf, fifo=True)
    print(f"interleaved A B x6: batched {ours_time:.2f} s, {ours_swaps} swaps;"
          f" plain FIFO {fifo_time:.2f} s, {fifo_swaps} swaps"
          f" ({ours_time / fifo_time:.2f}x the time)")  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
