"""The memory facts against a real llama-server: our estimate, its own log, the kernel's RSS.

Each server runs under a real parent process (a small Python launcher, as a container's init
is), so ``tree_rss`` has a descendant to find. Servers log at ``-lv 4``: the buffer lines do not
print at the default verbosity. Every server started here is stopped in a ``finally``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from llamadash.core.gguf_estimate import Estimate, estimate_memory
from llamadash.core.memory import BufferTally, tree_rss

MIB = 1 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")
# Forwards SIGTERM, so stopping the launcher stops the server cleanly (its exit summary prints).
LAUNCHER = (
    "import signal, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[1:])\n"
    "signal.signal(signal.SIGTERM, lambda *_: child.terminate())\n"
    "sys.exit(child.wait())\n"
)
# "common_memory_breakdown_print: |   - Host    |    293 =   235 +      36 +      22    |"
_BREAKDOWN = re.compile(r"common_memory_breakdown_print: \|\s+- (\S+)\s+\|[^|=]*?(\d+) =")


@dataclass
class Served:
    """One running server: its launcher, its own PID, its log."""

    launcher: subprocess.Popen[bytes]
    server_pid: int
    log: Path

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()


def children(pid: int) -> list[int]:
    """Direct children of ``pid``, from /proc (every thread's list)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def wait_healthy(port: int, alive: Any, what: str, deadline_s: float = 120) -> None:
    """Poll /health until 200; fail early if ``alive()`` turns false."""
    deadline = time.monotonic() + deadline_s
    with httpx.Client(timeout=2) as client:
        while True:
            assert alive(), f"{what} exited before it was healthy"
            try:
                if client.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{what} not healthy in {deadline_s} s"
            time.sleep(0.02)  # the poll interval, not a wait for the condition


@contextmanager
def serve(
    binary: Path, model: Path, args: tuple[str, ...], port: int, log: Path
) -> Iterator[Served]:
    command = [sys.executable, "-c", LAUNCHER, str(binary), "--model", str(model), *args]
    command += ["--host", "127.0.0.1", "--port", str(port), "-lv", "4"]
    with log.open("wb") as out:
        launcher = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_healthy(port, lambda: launcher.poll() is None, f"llama-server on {model.name}")
        (server_pid,) = children(launcher.pid)
        yield Served(launcher, server_pid, log)
    finally:
        launcher.terminate()
        try:
            launcher.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(launcher.pid, signal.SIGKILL)  # our own session: the launcher and server
            launcher.wait()


def tally_of(lines: list[str]) -> tuple[BufferTally, list[str]]:
    tally = BufferTally()
    return tally, [line for line in lines if tally.feed(line)]


def own_rss(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


def report(name: str, args: tuple[str, ...], est: Estimate, tally: BufferTally, rss: int) -> None:
    print(
        f"\n{name} {' '.join(args)}: estimate {est.total / MIB:.1f} MiB"
        f" (weights {est.weights / MIB:.1f}, kv {est.kv / MIB:.2f},"
        f" compute {est.compute / MIB:.2f},"
        f" overhead {est.overhead / MIB:.1f}); logged buffers {tally.total_bytes / MIB:.1f} MiB"
        f" (kv {tally.kind_bytes('kv') / MIB:.2f}); RSS {rss / MIB:.1f} MiB"
    )


CASES = [
    # (model fixture, args, every attention layer gets the full context)
    ("tiny_gguf", ("-c", "2048"), True),
    ("tiny_gguf", ("-c", "8192", "-np", "1", "-ctk", "q8_0"), True),
    ("gemma_gguf", ("-c", "2048"), True),  # sliding layers' cap (2560 cells) >= the context
    ("gemma_gguf", ("-c", "1024", "-np", "2"), True),
    ("gemma_gguf", ("-c", "8192", "--swa-full"), True),
    ("gemma_gguf", ("-c", "8192"), False),  # sliding layers get 2560 cells: an upper bound
]


@pytest.mark.llama
@pytest.mark.parametrize(("model_fixture", "args", "full"), CASES)
def test_estimate_log_and_rss_agree(
    request: pytest.FixtureRequest,
    llama_server_bin: Path,
    free_port: int,
    tmp_path: Path,
    model_fixture: str,
    args: tuple[str, ...],
    full: bool,
) -> None:
    model: Path = request.getfixturevalue(model_fixture)
    estimate = estimate_memory(model, ("--model", str(model), *args))
    with serve(llama_server_bin, model, args, free_port, tmp_path / "server.log") as served:
        server_rss = tree_rss(served.server_pid)
        launcher_total = tree_rss(served.launcher.pid)
        launcher_own = own_rss(served.launcher.pid)
        tally, counted = tally_of(served.lines())
    assert server_rss is not None and launcher_total is not None
    report(model.name, args, estimate, tally, server_rss)

    # Our KV estimate against the KV buffers llama-server itself allocated.
    logged_kv = tally.kind_bytes("kv")
    assert logged_kv > 0
    if full:
        assert abs(estimate.kv - logged_kv) <= 0.03 * logged_kv, (estimate.kv, logged_kv)
    else:
        assert logged_kv < estimate.kv <= 3 * logged_kv, (estimate.kv, logged_kv)

    # The tally counted exactly the buffer lines, and adds up to what they say.
    buffer_lines = [line for line in served.lines() if "buffer size =" in line]
    assert counted == buffer_lines[: len(counted)] and len(counted) == len(buffer_lines)
    said = [float(line.rsplit("=", 1)[1].split()[0]) for line in buffer_lines]
    assert all(line.rstrip().endswith("MiB") for line in buffer_lines)
    assert abs(tally.total_bytes - sum(said) * MIB) < len(said)  # rounding of each to a byte

    # llama-server's own exit summary (whole MiB per device: model + context + compute); the
    # same table prints at start too, as --fit's projection: only the one after the exit counts.
    text = "\n".join(served.lines())
    rows = _BREAKDOWN.findall(text[text.rfind("cleaning up before exit") :])
    assert rows, "no memory breakdown at exit"
    summary = sum(int(self_mib) for _, self_mib in rows) * MIB
    ours = tally.total_bytes - tally.kind_bytes("output")  # the summary leaves the logits out
    assert abs(ours - summary) < len(rows) * MIB, (ours, summary, rows)

    # RSS: the launcher's tree is itself plus the server; the estimate is an upper bound of it.
    assert abs(launcher_total - (launcher_own + server_rss)) < 2 * MIB
    assert launcher_total > server_rss
    assert estimate.total / 3 <= server_rss <= estimate.total * 1.05, (server_rss, estimate.total)
    assert server_rss >= 0.9 * estimate.weights  # mmap'd weights are resident after warmup


@pytest.mark.engine
def test_container_init_pid_covers_the_server(
    engine: Any, llama_image: str, tiny_gguf: Path, free_port: int
) -> None:
    """Docker's State.Pid is the container's init (tini); tree_rss must reach its child."""
    args = ("-m", f"/models/{tiny_gguf.name}", "-c", "2048", "-lv", "4")
    container = engine.containers.run(
        llama_image,
        command=["--host", "127.0.0.1", "--port", str(free_port), *args],
        name=f"ldmem-{uuid.uuid4().hex[:8]}",
        init=True,
        network_mode="host",
        volumes={str(tiny_gguf.parent): {"bind": "/models", "mode": "ro"}},
        detach=True,
    )
    try:

        def running() -> bool:
            container.reload()
            return bool(container.status == "running")

        wait_healthy(free_port, running, "the llama-server container")
        init_pid = int(container.attrs["State"]["Pid"])
        assert Path(f"/proc/{init_pid}/comm").read_text().strip() == "docker-init"
        (server_pid,) = children(init_pid)
        assert Path(f"/proc/{server_pid}/comm").read_text().strip() == "llama-server"
        server_rss, total = tree_rss(server_pid), tree_rss(init_pid)
        assert server_rss is not None and total is not None
        assert server_rss < total < server_rss + 4 * MIB  # tini is a few hundred KiB
        tally, _ = tally_of(container.logs().decode(errors="replace").splitlines())
        estimate = estimate_memory(tiny_gguf, args)
        assert tally.kind_bytes("kv") == estimate.kv == 1 * MIB
        assert estimate.total / 3 <= server_rss <= estimate.total * 1.05
        print(
            f"\ncontainer tiny -c 2048: RSS {server_rss / MIB:.1f} MiB, with init {total / MIB:.1f}"
        )
    finally:
        container.remove(force=True)
    assert tree_rss(init_pid) is None  # gone with the container
