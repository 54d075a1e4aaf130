"""``llamadash ps --json`` with 8 running instances, against ``python -c pass`` (same run).

Starts a real owner — ``llamadash serve`` on free loopback ports, process runtime,
``max_instances = 8`` — and 8 tiny llama-servers through ``POST /instances``, then runs,
interleaved for several rounds, the bare interpreter, ``llamadash status --json`` and
``llamadash ps --json`` (both forwarded to the owner; ps asks every server's /health and
/props). Prints median and slowest per command, its ratio to the baseline and the CPU time.

Target: ``ps --json`` with 8 instances <= 150 ms wall (median).

    python bench/bench_pool.py [--rounds 15] [--instances 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_cli import (
    LLAMADASH,
    TARGET_MS,
    free_port,
    print_table,
    time_rounds,
    user_env,
    wait_listening,
)

CONF = """\
[llamadash]
runtime = process
models_dir = {dir}
port = {port}
api_port = {api_port}
project_name = ldbench-pool-{pid}
state_dir = {dir}/state
max_instances = {count}
port_range = {low}-{high}
"""
PROFILE = "\n[t{n}]\nname = Tiny {n}\nmodel = tiny.gguf\nctx = 256\nthreads = 1\n"


def start_all(api_port: int, count: int) -> None:
    from llamadash.core.http1 import request

    for n in range(1, count + 1):
        body = json.dumps({"model": f"t{n}", "exact": True}).encode()
        headers = {"Content-Type": "application/json"}
        reply = request(
            "127.0.0.1", api_port, "POST", "/instances", body=body, headers=headers, timeout=120
        )
        if reply.status != 200:
            raise SystemExit(f"could not start t{n}: {reply.status} {reply.body[:300]!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--instances", type=int, default=8)
    args = parser.parse_args()
    from tests.support.tiny_gguf import write_tiny_gguf

    env = user_env()
    with tempfile.TemporaryDirectory(prefix="ldbench-pool-") as tmp:
        write_tiny_gguf(Path(tmp) / "tiny.gguf")
        api_port, low = free_port(), 20000 + os.getpid() % 20000
        conf = Path(tmp) / "models.conf"
        text = CONF.format(
            dir=tmp,
            port=free_port(),
            api_port=api_port,
            pid=os.getpid(),
            count=args.instances,
            low=low,
            high=low + 99,
        )
        conf.write_text(text + "".join(PROFILE.format(n=n) for n in range(1, args.instances + 1)))
        cli = [str(LLAMADASH), "--models-conf", str(conf)]
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "llamadash status --json": [*cli, "status", "--json"],
            "llamadash ps --json": [*cli, "ps", "--json"],
        }
        serve = subprocess.Popen(
            [*cli, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_listening(api_port, serve)
            start_all(api_port, args.instances)
            shown = json.loads(
                subprocess.run(
                    commands["llamadash ps --json"], env=env, capture_output=True, check=True
                ).stdout
            )
            rows = shown.get("instances", shown) if isinstance(shown, dict) else shown
            if len(rows) != args.instances:
                raise SystemExit(f"ps shows {len(rows)} instances, not {args.instances}")
            times, cpu = time_rounds(commands, env, args.rounds)
        finally:
            subprocess.run([*cli, "stop", "all"], env=env, capture_output=True, check=False)
            serve.terminate()
            serve.wait(30)
    print(f"wall ms per run, {args.rounds} rounds interleaved, {args.instances} instances running")
    print_table(times, cpu)
    ps = statistics.median(times["llamadash ps --json"])
    verdict = "ok" if ps <= TARGET_MS else "OVER"
    print(f"ps --json: {ps:.1f} ms median (target <= {TARGET_MS:.0f} ms: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
