"""CPU per poll of llama-server: httpx.AsyncClient vs llamadash's LoopbackHttp, same run.

Starts a real llama-server (the test bed's binary, the tiny random GGUF) on a free loopback
port, then alternates rounds of GET /health, /slots and /metrics — the dashboard's poll — with
each client and reports this process's CPU time per request and the ratio. Loopback only.

    python bench/bench_http_poll.py [--requests 600] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PATHS = ("/health", "/slots", "/metrics")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def cpu_per_request(get: Callable[[str], Awaitable[int]], requests: int) -> float:
    """Milliseconds of this process's CPU per request (sequential, like one poller)."""
    began = time.process_time()
    for i in range(requests):
        status = await get(PATHS[i % len(PATHS)])
        assert status == 200, status
    return 1000 * (time.process_time() - began) / requests


async def bench(requests: int, rounds: int, port: int) -> list[tuple[float, float]]:
    import httpx

    from llamadash.core.loopback import LoopbackHttp

    base = f"http://127.0.0.1:{port}"
    light = LoopbackHttp("127.0.0.1", port)
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=5) as heavy:

        async def with_httpx(path: str) -> int:
            return (await heavy.get(path)).status_code

        async def with_loopback(path: str) -> int:
            return (await light.get(path, timeout=5)).status

        await cpu_per_request(with_httpx, 30)  # warm both up
        await cpu_per_request(with_loopback, 30)
        results = []
        for _ in range(rounds):
            results.append(
                (
                    await cpu_per_request(with_httpx, requests),
                    await cpu_per_request(with_loopback, requests),
                )
            )
    light.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from llamadash.core.runtime.binary import find_llama_server
    from tests.support.tiny_gguf import write_tiny_gguf

    binary = find_llama_server(os.environ.get("LLAMA_SERVER", ""))
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="ldbench-http-") as tmp:
        model = write_tiny_gguf(Path(tmp) / "tiny.gguf")
        args_ = ["-m", str(model), "--host", "127.0.0.1", "--port", str(port), "--metrics"]
        server = subprocess.Popen(
            [str(binary), *args_, "--slots", "-c", "256", "-t", "1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            import httpx

            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    print("llama-server did not become healthy", file=sys.stderr)
                    return 1
                time.sleep(0.1)
            results = asyncio.run(bench(args.requests, args.rounds, port))
        finally:
            server.terminate()
            server.wait(10)
    print(f"CPU ms per request ({args.requests} requests per client per round, /health /slots"
          " /metrics in turn)")  # fmt: skip
    print(f"{'round':<7}{'httpx':>9}{'loopback':>10}{'ratio':>8}")
    for i, (heavy, light) in enumerate(results, 1):
        print(f"{i:<7}{heavy:>9.3f}{light:>10.3f}{light / heavy:>8.2f}")
    heavy = sorted(h for h, _ in results)[len(results) // 2]
    light = sorted(lt for _, lt in results)[len(results) // 2]
    print(f"median: loopback / httpx = {light / heavy:.2f} ({heavy:.3f} -> {light:.3f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
