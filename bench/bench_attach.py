"""Attached dashboards' CPU against the local dashboard's, and the owner's with 0, 1 and 3 attached.

Everything in one run, on the process runtime with tiny ready (no Docker needed), each
dashboard a real process drawn in its own 160x48 tmux window:

* local     ``llamadash`` owning the servers (collectors, side API, 1 Hz refresh)
* attached  ``llamadash attach`` to a headless ``llamadash serve`` owner: the dashboard's own
            CPU (it only reads the owner's stream), and the owner's CPU with 0, 1 and 3 attached

CPU% is of one core (psutil, every thread) over ``--seconds`` after a warm-up; the ratio is
attached / local in this same run. Goal (issue #16): attached ≤ local. Loopback only.

    python bench/bench_attach.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_ui_cpu import SIZE, WARMUP, cpu_percent, prepare, tmux

LLAMADASH = Path(sys.executable).with_name("llamadash")


@contextmanager
def dashboard(*argv: str) -> Iterator[psutil.Process]:
    """``llamadash ARGV`` in a fresh tmux server; yields its process once the footer shows."""
    sock = str(Path(tempfile.gettempdir()) / f"ldbench-attach-{uuid.uuid4().hex[:8]}.sock")
    command = " ".join(["exec", str(LLAMADASH), *argv])
    tmux(sock, "new-session", "-d", "-x", str(SIZE[0]), "-y", str(SIZE[1]), "-s", "b",
         "-e", "TERM=xterm-256color", command)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "Ready: " not in tmux(sock, "capture-pane", "-p", "-t", "b"):
            if time.monotonic() > deadline:
                raise SystemExit("the dashboard never showed Ready")
            time.sleep(0.1)
        pid = int(tmux(sock, "display-message", "-p", "-t", "b", "#{pane_pid}").strip())
        yield psutil.Process(pid)
    finally:
        tmux(sock, "kill-server")
        Path(sock).unlink(missing_ok=True)


@contextmanager
def owner(conf: Path) -> Iterator[psutil.Process]:
    """``llamadash serve`` until the block ends."""
    log = conf.with_name("serve.log").open("ab")
    process = subprocess.Popen([str(LLAMADASH), "--models-conf", str(conf), "serve"],
                               stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "listening" not in conf.with_name("serve.log").read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(conf.with_name("serve.log").read_text())
            time.sleep(0.1)
        yield psutil.Process(process.pid)
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(30)
        log.close()


def measure(proc: psutil.Process, seconds: float) -> float:
    time.sleep(WARMUP)
    return cpu_percent(proc, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    seconds = parser.parse_args().seconds
    os.environ.setdefault("LLAMA_SERVER", str(next(iter(sorted(
        Path.home().glob(".cache/llamadash/llama-server/*/llama-server"))), "")))  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="ldbench-attach-") as tmp:
        conf, _ = prepare(Path(tmp), runtime="process")
        conf_args = ("--models-conf", str(conf))
        with dashboard(*conf_args) as local:
            local_cpu = measure(local, seconds)
        with owner(conf) as served:
            alone = measure(served, seconds)
            with dashboard(*conf_args) as first:
                attached_cpu = measure(first, seconds)
                owner_one = cpu_percent(served, seconds)
                with ExitStack() as more:
                    for _ in range(2):
                        more.enter_context(dashboard(*conf_args))
                    owner_three = measure(served, seconds)
        subprocess.run([str(LLAMADASH), *conf_args, "stop"], capture_output=True, check=False)
    ratio = attached_cpu / local_cpu if local_cpu else float("nan")
    print(f"local dashboard         {local_cpu:6.2f}% of a core")
    print(f"attached dashboard      {attached_cpu:6.2f}%   × local {ratio:.2f} (goal ≤ 1.00)")
    print(f"owner (serve), 0 attached {alone:5.2f}%")
    print(f"owner (serve), 1 attached {owner_one:5.2f}%")
    print(f"owner (serve), 3 attached {owner_three:5.2f}%")


if __name__ == "__main__":
    main()
