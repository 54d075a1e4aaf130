"""The dashboard's CPU cost and key latency, as a real process in a real terminal (tmux).

Scenarios, each a fresh child process drawn in a 160x48 tmux window, its CPU time measured with
psutil (all threads) over ``--seconds`` after a warm-up:

* baseline       a bare Textual app: one Static updated at 1 Hz
* baseline+flood the same, plus the flood generator below feeding a LogHub (its own cost)
* idle           the real dashboard (collectors, side API, 1 Hz refresh) with tiny ready
* flood          the same while 1,000 log lines/s are appended to the switcher's LogHub, one
                 ``extend`` per line as the log follower does
* key → frame    ``f`` sent with tmux send-keys until the log pane title changes on screen
                 (capture-pane polling: includes tmux's own delay, so an upper bound),
                 idle and during the flood

CPU% is of one core; "× base" is the ratio to the baseline run of this same invocation.
Targets: idle ≤ 1%, flood ≤ 10%, key → frame ≤ 100 ms (median). Needs the test engine
(make testbed) and tmux. Loopback only.

    python bench/bench_ui_cpu.py [--seconds 60] [--strict] [--only idle] [--threads]
                                 [--instances 4]

``--threads`` adds where the idle CPU goes, per thread (from /proc/<pid>/task/*/schedstat).
``--instances N`` runs N tiny servers (the foreground one and N-1 beside it, max_instances =
N) that the dashboard adopts; the idle target is then 1.5% (issue #11).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DOCKER_HOST", "unix:///tmp/llamadash-testbed/docker.sock")

IMAGE = os.environ.get("LLAMADASH_TEST_IMAGE", "llamadash/llama-server:local")
SIZE = (160, 48)
WARMUP = 5.0
FLOOD_RATE = 1000
KEY_ROUNDS = 10
TARGETS = {"idle": 1.0, "flood": 10.0}
POOL_IDLE_TARGET = 1.5  # idle with 4 instances (issue #11)
KEY_TARGET_MS = 100.0


# --- children (run inside tmux) -------------------------------------------------------------
def flood(append: Callable[[tuple[str, ...]], None], rate: int) -> None:
    """Append ``rate`` lines/s, one call per line, paced in steps of 10 ms (daemon thread)."""
    step, per_step, n = 0.01, max(1, rate // 100), 0
    began = time.monotonic()
    while True:
        for _ in range(per_step):
            n += 1
            append((f"0.{n // 1000:02d}.{n % 1000:03d}.000 I slot update_slots: id  0 | task {n}"
                    " | n_past = 1234, n_decoded = 56, flood line",))  # fmt: skip
        pause = began + step * (n // per_step) - time.monotonic()
        if pause > 0:
            time.sleep(pause)


def child_baseline(rate: int, workdir: Path) -> None:
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    from llamadash.core.logs import LogHub

    class Baseline(App[None]):
        def compose(self) -> ComposeResult:
            yield Static("", id="clock")

        def on_mount(self) -> None:
            self.set_interval(1.0, self.tick)
            self.tick()

        def tick(self) -> None:
            self.query_one("#clock", Static).update(f"baseline {time.time():.0f}")

    if rate:
        hub = LogHub(workdir / "baseline-flood.log")
        threading.Thread(target=flood, args=(hub.extend, rate), daemon=True).start()
    Baseline().run()


def write_thread_names(path: Path) -> None:
    """Write {OS thread id: Python thread name} twice, early and once all threads started.

    Python does not name its threads for the OS, so the parent reads this to say which thread
    spent what (``--threads``). Two writes, then the thread ends: nothing wakes during the
    measured window.
    """
    for delay in (2.0, WARMUP):
        time.sleep(delay)
        names = {t.native_id: t.name for t in threading.enumerate()}
        path.write_text(json.dumps(names))


def child_dash(conf: Path, rate: int, thread_names: Path | None = None) -> None:
    """What ``llamadash`` (no verb) runs, plus an optional log flood."""
    from llamadash.api.server import ApiServer
    from llamadash.collectors.bundle import collectors_for
    from llamadash.core.context import build_engine
    from llamadash.ui.app import build_app

    engine = build_engine(conf)
    api = ApiServer(engine.switcher, pool=engine.pool, idle=engine.idle)
    if thread_names is not None:
        threading.Thread(target=write_thread_names, args=(thread_names,), daemon=True).start()
    if rate:
        threading.Thread(
            target=flood, args=(engine.switcher.logs.extend, rate), daemon=True
        ).start()
    from llamadash.commands.serving import settle_when_drawn

    app = build_app(engine, collectors=collectors_for(engine), api=api)
    app.call_later(settle_when_drawn, app)  # as the dashboard command does
    app.run()


# --- parent ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tmux(sock: str, *args: str) -> str:
    # COLUMNS/LINES must not leak into the tmux server: the child would draw at that size.
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX")}
    done = subprocess.run(["tmux", "-S", sock, *args], capture_output=True, text=True,
                          timeout=20, env=env, check=False)  # fmt: skip
    return done.stdout


@contextmanager
def in_tmux(child_args: list[str]) -> Iterator[tuple[str, psutil.Process]]:
    """Run this script's child mode in a fresh tmux server; yield (socket, process)."""
    sock = str(Path(tempfile.gettempdir()) / f"ldbench-tmux-{uuid.uuid4().hex[:8]}.sock")
    command = " ".join([f"exec {sys.executable}", str(Path(__file__).resolve()), *child_args])
    docker_host = f"DOCKER_HOST={os.environ['DOCKER_HOST']}"
    tmux(sock, "new-session", "-d", "-x", str(SIZE[0]), "-y", str(SIZE[1]), "-s", "b",
         "-e", docker_host, "-e", "TERM=xterm-256color", command)  # fmt: skip
    proc: psutil.Process | None = None
    try:
        pid = int(tmux(sock, "display-message", "-p", "-t", "b", "#{pane_pid}").strip())
        proc = psutil.Process(pid)
        yield sock, proc
    finally:
        tmux(sock, "kill-server")
        Path(sock).unlink(missing_ok=True)
        if proc is not None:  # its log files are written until it exits: then remove them
            with contextlib.suppress(psutil.Error):
                proc.wait(15)


def screen(sock: str) -> str:
    return tmux(sock, "capture-pane", "-p", "-t", "b")


def wait_screen(sock: str, needle: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while needle not in screen(sock):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {needle!r} on screen:\n{screen(sock)}")
        time.sleep(0.1)


def cpu_percent(proc: psutil.Process, seconds: float) -> float:
    """CPU time of ``proc`` (user + system, all threads) over ``seconds``, as % of one core."""
    before, t0 = proc.cpu_times(), time.monotonic()
    time.sleep(seconds)
    after, t1 = proc.cpu_times(), time.monotonic()
    used = (after.user - before.user) + (after.system - before.system)
    return 100.0 * used / (t1 - t0)


def key_latencies(sock: str, rounds: int) -> list[float]:
    """Milliseconds from send-keys ``f`` until the log pane title shows the new follow state."""
    results = []
    for i in range(rounds):
        want = "Logs · paused (f: follow)" if i % 2 == 0 else "Logs · follow"
        t0 = time.monotonic()
        tmux(sock, "send-keys", "-t", "b", "f")
        deadline = t0 + 5
        while want not in screen(sock):
            if time.monotonic() > deadline:
                raise SystemExit(f"no frame with {want!r} within 5 s")
        results.append(1000 * (time.monotonic() - t0))
        time.sleep(0.3)
    return results


def prepare(work: Path, instances: int = 1, runtime: str = "compose") -> tuple[Path, str]:
    """models.conf with tiny on the test engine (unique project, free ports); tiny made ready.

    ``instances`` > 1: that many copies of tiny run, the others beside the foreground one.
    """
    from llamadash.core.context import build_engine
    from tests.e2e.conftest import write_conf
    from tests.support.tiny_gguf import write_tiny_gguf

    models = work / "models"
    models.mkdir()
    write_tiny_gguf(models / "tiny.gguf")
    project = f"ldbench-ui-{uuid.uuid4().hex[:6]}"
    project_dir = work / "project"
    project_dir.mkdir()
    conf = write_conf(work / "models.conf", models_dir=models, port=free_port(), project=project,
                      project_dir=project_dir, state_dir=work / "state", image=IMAGE,
                      runtime=runtime)  # fmt: skip
    head = f"[llamadash]\napi_port = {free_port()}\nmax_instances = {instances}\n"
    text = conf.read_text().replace("[llamadash]\n", head, 1)
    extra = [f"tiny-{n}" for n in range(2, instances + 1)]
    for name in extra:
        text += f"\n[{name}]\nname = Tiny {name}\nmodel = tiny.gguf\nctx = 512\nthreads = 1\n"
    conf.write_text(text)
    engine = build_engine(conf)

    async def ready() -> None:
        outcomes = [await engine.switcher.request("tiny")]
        outcomes += [await engine.pool.start(name) for name in extra]
        await engine.pool.aclose()  # the servers keep running: the dashboard adopts them
        for outcome in outcomes:
            if not outcome.ok:
                raise SystemExit(f"could not start {outcome.profile_id}: {outcome.message}")

    asyncio.run(ready())
    return conf, project


def cleanup(project: str) -> None:
    import docker

    client = docker.from_env(timeout=30)
    for container in client.containers.list(all=True):
        # The instances beside the foreground one have projects of their own: <project>-<id>.
        if container.labels.get("com.docker.compose.project", "").startswith(project):
            container.remove(force=True)
    client.close()


def thread_seconds(pid: int) -> dict[int, float]:
    """CPU seconds per thread from /proc/<pid>/task/*/schedstat (nanoseconds, not ticks)."""
    seconds = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            seconds[int(task.name)] = int((task / "schedstat").read_text().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            continue  # the thread ended meanwhile
    return seconds


def measure(
    args: list[str], seconds: float, ready: str, names: Path | None = None
) -> tuple[float, dict[str, float]]:
    """CPU % of the child over ``seconds``; with ``names``, also % per thread (by name)."""
    with in_tmux(args) as (sock, proc):
        wait_screen(sock, ready)
        time.sleep(WARMUP)
        if names is None:
            return cpu_percent(proc, seconds), {}
        before, began = thread_seconds(proc.pid), time.monotonic()
        pct = cpu_percent(proc, seconds)
        after, spent = thread_seconds(proc.pid), time.monotonic() - began
        name_of = {int(k): v for k, v in json.loads(names.read_text()).items()}
        per_thread: dict[str, float] = {}
        for tid, total in after.items():
            name = name_of.get(tid, f"tid {tid}")
            used = 100.0 * (total - before.get(tid, 0.0)) / spent
            per_thread[name] = per_thread.get(name, 0.0) + used
        return pct, per_thread


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="window per scenario")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--only",
        default="idle,flood,keys",
        help="comma-separated scenarios among idle, flood, keys (the baselines always run)",
    )
    parser.add_argument(
        "--threads", action="store_true", help="also print the idle dashboard's CPU per thread"
    )
    parser.add_argument(
        "--instances", type=int, default=1, help="tiny servers running (max_instances)"
    )
    parser.add_argument("--child", choices=("baseline", "dash"), help=argparse.SUPPRESS)
    parser.add_argument("--conf", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--flood", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--thread-names", type=Path, help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.child == "baseline":
        child_baseline(opts.flood, opts.workdir)
        return 0
    if opts.child == "dash":
        child_dash(opts.conf, opts.flood, opts.thread_names)
        return 0

    if shutil.which("tmux") is None:
        print("tmux is missing (apt-get install tmux)", file=sys.stderr)
        return 2
    seconds = opts.seconds
    only = set(opts.only.split(","))
    latencies: dict[str, list[float]] = {}
    rows: list[tuple[str, float]] = []
    per_thread: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="ldbench-ui-") as tmp:
        work = Path(tmp)
        conf, project = prepare(work, opts.instances)
        try:
            base = ["--child", "baseline", "--workdir", str(work)]
            dash = ["--child", "dash", "--conf", str(conf)]
            rows.append(("baseline", measure(base, seconds, "baseline")[0]))
            rate = ["--flood", str(FLOOD_RATE)]
            if "flood" in only:
                rows.append(("baseline+flood", measure([*base, *rate], seconds, "baseline")[0]))
            if "idle" in only:
                names = work / "threads.json" if opts.threads else None
                named = ["--thread-names", str(names)] if names else []
                idle, per_thread = measure([*dash, *named], seconds, "Ready: ", names)
                rows.append(("idle", idle))
            if "flood" in only:
                rows.append(("flood", measure([*dash, *rate], seconds, "Ready: ")[0]))
            if "keys" in only:
                for name, child in (("idle", dash), ("flood", [*dash, *rate])):
                    with in_tmux(child) as (sock, _proc):
                        wait_screen(sock, "Ready: ")
                        time.sleep(WARMUP)
                        latencies[name] = key_latencies(sock, KEY_ROUNDS)
        finally:
            cleanup(project)

    base_pct = rows[0][1]
    missed = []
    targets = dict(TARGETS)
    if opts.instances > 1:
        targets["idle"] = POOL_IDLE_TARGET
    print(f"dashboard CPU, {seconds:.0f} s per scenario, {SIZE[0]}x{SIZE[1]} tmux, "
          f"{psutil.cpu_count()} CPUs, {opts.instances} instance(s); % of one core")  # fmt: skip
    print(f"{'scenario':<16}{'CPU %':>8}{'× base':>9}  target")
    for name, pct in rows:
        ratio = pct / base_pct if base_pct > 0 else float("inf")
        target = targets.get(name)
        verdict = ""
        if target is not None:
            ok = pct <= target
            verdict = f"≤ {target:g}%  {'ok' if ok else 'MISSED'}"
            if not ok:
                missed.append(name)
        print(f"{name:<16}{pct:>8.2f}{ratio:>9.1f}  {verdict}")
    for name, presses in latencies.items():
        med, worst = statistics.median(presses), max(presses)
        ok = med <= KEY_TARGET_MS
        if not ok:
            missed.append(f"key → frame ({name})")
        label = f"key→frame {name}"
        print(f"{label:<16}{med:>6.0f} ms median, {worst:.0f} ms max over {len(presses)}"
              f" presses  ≤ {KEY_TARGET_MS:.0f} ms  {'ok' if ok else 'MISSED'}")  # fmt: skip
    if per_thread:
        print("idle, per thread (% of one core; asyncio_N: executor threads of workers):")
        for name, pct in sorted(per_thread.items(), key=lambda item: -item[1]):
            if pct >= 0.005:
                print(f"  {name:<38}{pct:>7.3f}")
    return 1 if opts.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
