"""Wall time of CLI verbs forwarded to a running owner, against ``python -c pass`` (same run).

Starts a real owner — ``llamadash serve`` on free loopback ports, process runtime, a tiny
profile — then runs, interleaved for several rounds, the interpreter doing nothing, the
interpreter importing httpx (what the forwarding path used to load for its client alone),
and ``llamadash status --json``, ``models --json`` and ``stop`` (forwarded; the server is
already stopped, so the owner answers at once). Prints median and slowest per command and
its ratio to the baseline's median, and the median CPU time (user + system) of each run.

Target: ``llamadash status --json`` <= 150 ms wall (median).

    python bench/bench_cli.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

LLAMADASH = Path(sys.executable).with_name("llamadash")
TARGET_MS = 150.0
CONF = """\
[llamadash]
runtime = process
models_dir = {dir}
port = {port}
api_port = {api_port}
project_name = ldbench-cli-{pid}
state_dir = {dir}/state

[tiny]
name = Tiny random llama
model = tiny.gguf
ctx = 256
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def user_env() -> dict[str, str]:
    """The environment a user's shell has: bytecode cached (this workplace sets
    PYTHONDONTWRITEBYTECODE, which made every run compile 15 of our modules again: 30 ms)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": str(REPO)}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ms(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU milliseconds of one run (CPU tells a busy machine from a slow command)."""
    cpu, began = children_cpu(), time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False, timeout=60)
    elapsed = 1000 * (time.perf_counter() - began)
    if done.returncode != 0:
        raise SystemExit(f"{argv[1:]} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return elapsed, 1000 * (children_cpu() - cpu)


def time_rounds(
    commands: dict[str, list[str]], env: dict[str, str], rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and CPU ms of each command per round, interleaved (after one warm-up run each)."""
    for argv in commands.values():  # warm the page cache and .pyc files
        run_ms(argv, env)
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, argv in commands.items():
            wall, used = run_ms(argv, env)
            times[name].append(wall)
            cpu[name].append(used)
    return times, cpu


def print_table(times: dict[str, list[float]], cpu: dict[str, list[float]]) -> float:
    """Median, slowest, ratio to ``python -c pass`` and CPU per command; the baseline median."""
    base = statistics.median(times["python -c pass"])
    print(f"{'command':<28}{'median':>9}{'slowest':>9}{'x pass':>8}{'cpu ms':>9}")
    for name, values in times.items():
        median = statistics.median(values)
        used = statistics.median(cpu[name])
        print(f"{name:<28}{median:>9.1f}{max(values):>9.1f}{median / base:>8.2f}{used:>9.1f}")
    return base


def wait_listening(port: int, serve: subprocess.Popen[bytes]) -> None:
    from llamadash.core.http1 import LoopbackHttpError, request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and serve.poll() is None:
        try:
            if request("127.0.0.1", port, "GET", "/healthz", timeout=2).status == 200:
                return
        except LoopbackHttpError:
            time.sleep(0.05)
    raise SystemExit("llamadash serve did not start listening")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    from tests.support.tiny_gguf import write_tiny_gguf

    env = user_env()
    with tempfile.TemporaryDirectory(prefix="ldbench-cli-") as tmp:
        write_tiny_gguf(Path(tmp) / "tiny.gguf")
        api_port = free_port()
        conf = Path(tmp) / "models.conf"
        conf.write_text(CONF.format(dir=tmp, port=free_port(), api_port=api_port, pid=os.getpid()))
        cli = [str(LLAMADASH), "--models-conf", str(conf)]
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import httpx'": [sys.executable, "-c", "import httpx"],
            "llamadash status --json": [*cli, "status", "--json"],
            "llamadash models --json": [*cli, "models", "--json"],
            "llamadash stop": [*cli, "stop"],
        }
        serve = subprocess.Popen(
            [*cli, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_listening(api_port, serve)
            times, cpu = time_rounds(commands, env, args.rounds)
        finally:
            serve.terminate()
            serve.wait(30)
    print(f"wall ms per run, {args.rounds} rounds interleaved, forwarded to a running owner")
    base = print_table(times, cpu)
    status = statistics.median(times["llamadash status --json"])
    verdict = "ok" if status <= TARGET_MS else "OVER"
    print(
        f"status --json: {status:.1f} ms median (target <= {TARGET_MS:.0f} ms: {verdict});"
        f" {status - base:.1f} ms over the bare interpreter"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
