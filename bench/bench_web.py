"""What ``llamadash web`` costs on top of the dashboard it serves, per open page.

A real ``llamadash web`` (process runtime, tiny model ready) and one websocket client reading
every frame as a page would (aiohttp, not a browser: the browser's own CPU is the client's).
Measured with psutil over ``--seconds`` after a warm-up, CPU% of one core:

* dashboard  the session's dashboard process (Textual on its web driver)
* listener   the ``llamadash web`` process relaying its frames to the page

and the ratio listener / dashboard (the relay's share; the same run, the same frames), plus
key → frame: ``m`` sent as the page sends keys until the picker's title comes back (median).
Loopback only. Needs a llama-server ($LLAMA_SERVER or make testbed).

    python bench/bench_web.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.tiny_gguf import write_tiny_gguf
from tests.support.web import WebProcess
from tests.web.conftest import web_conf

WARMUP = 5.0
KEY_ROUNDS = 10


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of ``pid`` (schedstat: nanoseconds, where psutil has ticks)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


async def drain_until(ws: aiohttp.ClientWebSocketResponse, marker: bytes, timeout: float) -> None:
    """Read frames until ``marker`` has arrived (in one frame or across two)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        message = await ws.receive(timeout=max(0.1, deadline - time.monotonic()))
        if message.type != aiohttp.WSMsgType.BINARY:
            raise RuntimeError(f"the session ended: {message}")
        seen = seen[-len(marker) :] + message.data


async def drain_quiet(ws: aiohttp.ClientWebSocketResponse, quiet: float) -> None:
    """Read frames until none came for ``quiet`` seconds."""
    while True:
        try:
            await ws.receive(timeout=quiet)
        except TimeoutError:
            return


async def measure(web: WebProcess, api_port: int, seconds: float) -> dict[str, float]:
    async with (
        aiohttp.ClientSession() as client,
        client.ws_connect(f"{web.base}/ws?width=160&height=48", headers={"Origin": web.base}) as ws,
    ):
        await drain_until(ws, b"Models", 60)
        await ws.send_str(json.dumps(["stdin", "m"]))
        await drain_until(ws, b"Switch model", 20)
        await ws.send_str(json.dumps(["stdin", "1"]))  # tiny
        deadline = time.monotonic() + 60
        async with client.get(f"http://127.0.0.1:{api_port}/status") as answer:
            state = (await answer.json())["state"]
        while state != "ready" and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            async with client.get(f"http://127.0.0.1:{api_port}/status") as answer:
                state = (await answer.json())["state"]
        if state != "ready":
            raise RuntimeError(f"tiny did not get ready: {state}")
        listener = psutil.Process(web.process.pid)
        (dashboard,) = listener.children()
        reading = asyncio.create_task(drain_until(ws, b"\0never\0", seconds + WARMUP + 60))
        await asyncio.sleep(WARMUP)
        before = [cpu_seconds(p.pid) for p in (listener, dashboard)]
        await asyncio.sleep(seconds)
        after = [cpu_seconds(p.pid) for p in (listener, dashboard)]
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
        keys = []
        for _ in range(KEY_ROUNDS):
            await ws.send_str(json.dumps(["stdin", "\x1b"]))  # close the picker
            await drain_quiet(ws, 0.5)  # its last frames, so the next marker is new
            started = time.perf_counter()
            await ws.send_str(json.dumps(["stdin", "m"]))
            await drain_until(ws, b"Switch model", 20)
            keys.append((time.perf_counter() - started) * 1000)
    listener_cpu, dashboard_cpu = (
        (a - b) / seconds * 100 for a, b in zip(after, before, strict=True)
    )
    return {"listener": listener_cpu, "dashboard": dashboard_cpu, "key_ms": statistics.median(keys)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    options = parser.parse_args()
    if not os.environ.get("LLAMA_SERVER"):
        built = sorted((Path.home() / ".cache/llamadash/llama-server").glob("*/llama-server"))
        if not built:
            print("no llama-server: set LLAMA_SERVER or run make testbed", file=sys.stderr)
            return 2
        os.environ["LLAMA_SERVER"] = str(built[-1])
    with tempfile.TemporaryDirectory(prefix="bench-web-") as folder:
        models = Path(folder) / "models"
        models.mkdir()
        write_tiny_gguf(models / "tiny.gguf", seed=0)
        conf, _server_port, api_port = web_conf(Path(folder), models)
        web = WebProcess(conf)
        try:
            result = asyncio.run(measure(web, api_port, options.seconds))
        finally:
            web.stop()
            stop = [sys.executable, "-m", "llamadash", "--models-conf", str(conf), "stop", "all"]
            done = subprocess.run(stop, capture_output=True, text=True, timeout=60, check=False)
            if done.returncode:
                print(f"warning: llamadash stop all failed: {done.stderr.strip()}", file=sys.stderr)
    share = result["listener"] / result["dashboard"] if result["dashboard"] else float("nan")
    print(f"idle, tiny ready, one page, {options.seconds:.0f} s (CPU % of one core)")
    print(f"  dashboard  {result['dashboard']:6.2f} %   (baseline)")
    print(f"  listener   {result['listener']:6.2f} %   {share:5.2f} × dashboard")
    print(f"  key → frame (m → picker), median of {KEY_ROUNDS}: {result['key_ms']:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
