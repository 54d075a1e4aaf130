"""Collectors: GPU (real NVML and a fake one), system, container and llama-server.

The llama-server payloads in ``payloads/`` are real responses of a llama-server serving the
tiny test model (``tests/support/tiny_gguf.py``) with ``--metrics -c 512 -np 2``: ``*_idle``
before any request, ``llama_metrics.txt``/``llama_slots.json``/``llama_props.json`` right
after one 8-token completion, ``*_busy`` during a 240-token completion, and
``llama_metrics_disabled.json`` from a server started without ``--metrics`` (HTTP 501).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections import namedtuple
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import psutil
import pytest

from llamadash.collectors.container import ContainerCollector
from llamadash.collectors.docker_stats import cpu_percent, memory_used, online_cpus
from llamadash.collectors.gpu import (
    GpuCollector,
    nvidia_gpu_count,
    pid_in_container,
    pids_of_container,
)
from llamadash.collectors.prometheus import parse_prometheus
from llamadash.collectors.server import SLOTS_IDLE_EVERY, ServerCollector
from llamadash.collectors.slots import SlotInfo, decode_rate, parse_slots
from llamadash.collectors.system import (
    SystemCollector,
    _busy_and_total,
    _percent,
    _whole_disks,
)
from tests.conftest import missing
from tests.support.http_server import http_server

PAYLOADS = Path(__file__).parent / "payloads"
METRICS_TEXT = (PAYLOADS / "llama_metrics.txt").read_text()
METRICS_BUSY = (PAYLOADS / "llama_metrics_busy.txt").read_text()
METRICS_IDLE = (PAYLOADS / "llama_metrics_idle.txt").read_text()
SLOTS_TEXT = (PAYLOADS / "llama_slots.json").read_text()
SLOTS_BUSY = (PAYLOADS / "llama_slots_busy.json").read_text()
SLOTS_IDLE = (PAYLOADS / "llama_slots_idle.json").read_text()
PROPS_JSON = json.loads((PAYLOADS / "llama_props.json").read_text())
METRICS_DISABLED = (PAYLOADS / "llama_metrics_disabled.json").read_text()


# --- GPU -----------------------------------------------------------------------------------


def test_real_nvml_without_gpu_reports_unavailable() -> None:
    collector = GpuCollector()
    snap = collector.collect()
    again = collector.collect()  # init is attempted once and the answer is stable
    collector.close()

    assert snap.available is False
    assert "NVIDIA" in snap.reason
    assert snap.gpus == ()
    assert again.reason == snap.reason
    assert nvidia_gpu_count() == 0


class FakeNvml:
    """Two GPUs with pynvml's function names; GPU 1 cannot report its power draw."""

    class NVMLError(Exception):
        pass

    class NVMLError_NotSupported(NVMLError):
        pass

    NVML_TEMPERATURE_GPU = 0

    def __init__(self, server_pid: int, fail_init: bool = False) -> None:
        self.server_pid = server_pid
        self.fail_init = fail_init
        self.inits = 0

    def nvmlInit(self) -> None:
        self.inits += 1
        if self.fail_init:
            raise self.NVMLError("Driver Not Loaded")

    def nvmlShutdown(self) -> None:
        pass

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetName(self, handle: int) -> Any:
        return b"Fake RTX 0" if handle == 0 else "Fake RTX 1"

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> Any:
        return SimpleNamespace(gpu=40 + handle, memory=10)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:
        return SimpleNamespace(used=(handle + 1) * 2**30, total=8 * 2**30, free=0)

    def nvmlDeviceGetTemperature(self, handle: int, sensor: int) -> int:
        assert sensor == self.NVML_TEMPERATURE_GPU
        return 50 + handle

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        if handle == 1:
            raise self.NVMLError_NotSupported("Not Supported")
        return 123_456  # milliwatts

    def nvmlDeviceGetEnforcedPowerManagementLimit(self, handle: int) -> int:
        return 250_000

    def nvmlDeviceGetComputeRunningProcesses(self, handle: int) -> list[Any]:
        if handle == 0:
            return [SimpleNamespace(pid=self.server_pid, usedGpuMemory=512 * 2**20)]
        return [SimpleNamespace(pid=2**22 + 7, usedGpuMemory=None)]  # no such pid here


def test_fake_nvml_two_gpus_not_supported_is_none_and_server_is_marked() -> None:
    fake = FakeNvml(server_pid=os.getpid())
    collector = GpuCollector(server_pids=lambda: {os.getpid()}, nvml=fake)
    snap = collector.collect()
    collector.collect()

    assert fake.inits == 1
    assert snap.available is True and snap.reason == ""
    gpu0, gpu1 = snap.gpus
    assert (gpu0.index, gpu0.name, gpu1.name) == (0, "Fake RTX 0", "Fake RTX 1")
    assert gpu0.util_pct == 40.0
    assert (gpu0.mem_used, gpu0.mem_total) == (2**30, 8 * 2**30)
    assert gpu0.temp_c == 50.0
    assert gpu0.power_w == pytest.approx(123.456)
    assert gpu0.power_limit_w == 250.0
    assert gpu1.power_w is None  # NotSupported -> None, not an exception
    assert gpu1.power_limit_w == 250.0

    (server_proc,) = gpu0.processes
    assert server_proc.is_server is True
    assert server_proc.vram_bytes == 512 * 2**20
    assert server_proc.name == psutil.Process().name()
    (other,) = gpu1.processes
    assert other.is_server is False
    assert other.name is None and other.vram_bytes is None


def test_fake_nvml_init_failure_and_broken_server_pids() -> None:
    def boom() -> set[int]:
        raise RuntimeError("container gone")

    snap = GpuCollector(server_pids=boom, nvml=FakeNvml(0, fail_init=True)).collect()
    assert snap.available is False
    assert snap.reason == "No NVIDIA GPU found (Driver Not Loaded)"
    assert nvidia_gpu_count(FakeNvml(0)) == 2
    assert nvidia_gpu_count(FakeNvml(0, fail_init=True)) == 0

    snap = GpuCollector(server_pids=boom, nvml=FakeNvml(os.getpid())).collect()
    assert not any(p.is_server for g in snap.gpus for p in g.processes)


def test_pids_of_container_walks_children() -> None:
    child = subprocess.Popen(["sleep", "5"])
    try:
        pids = pids_of_container(os.getpid())
        assert {os.getpid(), child.pid} <= pids
    finally:
        child.kill()
        child.wait()
    assert pids_of_container(2**22 + 7) == set()


def test_pid_in_container_reads_cgroup() -> None:
    assert pid_in_container(os.getpid(), "f" * 64) is False
    assert pid_in_container(os.getpid(), "") is False  # never matches everything
    assert pid_in_container(2**22 + 7, "f" * 64) is False


# --- system --------------------------------------------------------------------------------


def test_system_collector_rates_from_second_call() -> None:
    collector = SystemCollector()
    first = collector.collect()
    time.sleep(0.2)
    second = collector.collect()

    assert first.cpu_pct is None and first.per_core == ()
    assert first.disk_read_bps is None and first.net_recv_bps is None
    assert second.cpu_pct is not None and 0.0 <= second.cpu_pct <= 100.0
    assert len(second.per_core) == psutil.cpu_count()
    assert all(0.0 <= p <= 100.0 for p in second.per_core)
    assert 0 < second.ram_used <= second.ram_total
    assert 0 <= second.swap_used <= max(second.swap_total, 0)
    assert second.load_avg is not None and all(x >= 0 for x in second.load_avg)
    for rate in (second.net_recv_bps, second.net_sent_bps):
        assert rate is not None and rate >= 0
    if psutil.disk_io_counters() is not None:
        assert second.disk_read_bps is not None and second.disk_read_bps >= 0
        assert second.disk_write_bps is not None and second.disk_write_bps >= 0
    assert second.at > first.at


def test_cpu_percent_counts_like_psutil() -> None:
    fields = "user nice system idle iowait irq softirq steal guest guest_nice"
    times = namedtuple("times", fields)  # psutil's own shape on Linux
    before = times(10, 0, 5, 80, 5, 0, 0, 0, 2, 0)
    # +30 user (10 of it guest, which Linux counts in user too), +10 system, +40 idle,
    # +10 iowait: 90 s passed, 40 of them busy.
    after = times(40, 0, 15, 120, 15, 0, 0, 0, 12, 0)
    (busy, total), (old_busy, old_total) = _busy_and_total(after), _busy_and_total(before)
    assert (busy - old_busy, total - old_total) == (40, 90)
    assert _percent(busy - old_busy, total - old_total) == 44.4
    assert _percent(0, 0) == 0.0  # no time passed


def test_partitions_are_not_summed_with_their_disk() -> None:
    # This machine's disks may have no partitions at all, so the totals test below could not
    # tell; name a partition of a real disk (it has no /sys/block entry of its own).
    disks = (
        sorted(p.name for p in Path("/sys/block").iterdir()) if Path("/sys/block").is_dir() else []
    )
    if not disks:
        missing("/sys/block", "a Linux kernel with sysfs")
    partition = disks[0] + "p1" if disks[0][-1].isdigit() else disks[0] + "1"
    assert not Path(f"/sys/block/{partition}").exists()
    assert _whole_disks([disks[0], partition]) == {disks[0]}


def test_system_collector_reads_disks_once_and_swap_every_few_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    swap_reads = []
    real_swap = psutil.swap_memory
    monkeypatch.setattr(psutil, "swap_memory", lambda: swap_reads.append(1) or real_swap())
    collector = SystemCollector()
    for _ in range(SystemCollector.SWAP_EVERY + 1):
        collector.collect()
    assert len(swap_reads) == 2
    # The whole disks' totals are psutil's own (which skips partitions): reads rarely move
    # within a millisecond, so a few tries settle it.
    for _ in range(5):
        ours = collector._disks.total(psutil.disk_io_counters(perdisk=True), "read_bytes")
        theirs = psutil.disk_io_counters(nowrap=False)
        if ours is None or theirs is None:
            assert ours is None and theirs is None
            return
        if ours["read_bytes"] == theirs.read_bytes:
            return
    raise AssertionError(f"disk totals differ from psutil's: {ours} vs {theirs}")


def _drain(sock: socket.socket, size: int) -> None:
    received = 0
    while received < size:
        received += len(sock.recv(2**20))


def test_network_rates_leave_out_loopback() -> None:
    # Loopback is the host talking to itself (the dashboard polling llama-server, the docker
    # API): 8 MiB through it between two samples must not show as network traffic.
    collector = SystemCollector()
    collector.collect()
    began = time.monotonic()
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        peer, _ = server.accept()
        with client, peer:
            reader = threading.Thread(target=lambda: _drain(peer, 8 * 2**20))
            reader.start()
            client.sendall(b"x" * 8 * 2**20)
            reader.join(10)
    snap = collector.collect()
    loopback_rate = 8 * 2**20 / (time.monotonic() - began)
    assert snap.net_recv_bps is not None and snap.net_sent_bps is not None
    assert snap.net_recv_bps < loopback_rate / 4 and snap.net_sent_bps < loopback_rate / 4
    assert "lo" not in collector._nics.kept and collector._nics.kept <= collector._nics.seen


# --- container -----------------------------------------------------------------------------


def test_container_engine_unreachable_factory_raises() -> None:
    def factory() -> Any:
        raise ConnectionError("connection refused")

    collector = ContainerCollector(factory, project="nope")
    snap = collector.collect()
    collector.close()
    assert snap.present is False
    assert snap.error is not None and snap.error.startswith("Docker engine unreachable:")
    assert "connection refused" in snap.error


def test_container_engine_unreachable_real_sdk(tmp_path: Path) -> None:
    import docker

    sock = f"unix://{tmp_path}/no-engine.sock"
    collector = ContainerCollector(lambda: docker.DockerClient(base_url=sock), project="nope")
    began = time.monotonic()
    snap = collector.collect()
    collector.close()
    assert time.monotonic() - began < 5
    assert snap.present is False
    assert snap.error is not None and snap.error.startswith("Docker engine unreachable:")


@pytest.mark.engine
def test_container_absent_on_real_engine(engine: Any) -> None:
    import docker

    collector = ContainerCollector(lambda: docker.from_env(timeout=10), project="ld-no-such")
    snap = collector.collect()
    collector.close()
    assert snap.present is False and snap.error is None


def test_docker_stats_math_cgroup_v1() -> None:
    stats = {
        "cpu_stats": {
            "cpu_usage": {"total_usage": 3_000_000_000, "percpu_usage": [1, 2]},
            "system_cpu_usage": 20_000_000_000,
            "online_cpus": 2,
        },
        "precpu_stats": {
            "cpu_usage": {"total_usage": 2_000_000_000},
            "system_cpu_usage": 18_000_000_000,
        },
        "memory_stats": {
            "usage": 100 * 2**20,
            "limit": 2**30,
            "stats": {"total_inactive_file": 2**20},
        },
    }
    assert cpu_percent(stats) == pytest.approx(100.0)  # 1 s of CPU in 1 s over 2 cores
    assert memory_used(stats) == 99 * 2**20
    first = {**stats, "precpu_stats": {"cpu_usage": {"total_usage": 0}}}
    assert cpu_percent(first) is None  # first sample of a stream
    assert memory_used({"memory_stats": {}}) is None


def test_online_cpus_scales_the_container_cpu_bar() -> None:
    # Regression: 312% on a 16-CPU host drew a full red bar (Docker counts 100% per core).
    assert online_cpus({"cpu_stats": {"online_cpus": 16}}) == 16
    old_engine = {"cpu_stats": {"cpu_usage": {"percpu_usage": [1, 2, 3, 4]}}}
    assert online_cpus(old_engine) == 4
    assert online_cpus({"cpu_stats": {}}) is None
    assert online_cpus({"cpu_stats": "garbage"}) is None


# --- llama-server: recorded payloads -------------------------------------------------------


def test_parse_recorded_prometheus_payloads() -> None:
    after = parse_prometheus(METRICS_TEXT)
    assert after["llamacpp:tokens_predicted_total"] == 8
    assert after["llamacpp:prompt_tokens_total"] == 7
    assert after["llamacpp:n_decode_total"] == 8
    assert after["llamacpp:requests_processing"] == 0
    assert after["llamacpp:requests_deferred"] == 0
    assert after["llamacpp:predicted_tokens_seconds"] > 0
    assert after["llamacpp:prompt_tokens_seconds"] > 0
    assert not any(name.startswith("#") for name in after)
    # This llama-server exports no KV-cache metrics any more.
    assert not any("kv_cache" in name for name in after)

    busy = parse_prometheus(METRICS_BUSY)
    assert busy["llamacpp:requests_processing"] == 1
    # Counters and the generation gauge only move when a request finishes.
    assert busy["llamacpp:predicted_tokens_seconds"] == 0
    assert busy["llamacpp:n_decode_total"] > after["llamacpp:n_decode_total"]

    idle = parse_prometheus(METRICS_IDLE)
    assert idle["llamacpp:tokens_predicted_total"] == 0
    assert set(idle) == set(after) == set(busy)


def test_prometheus_parser_is_tolerant() -> None:
    text = (
        "# HELP x help\n"
        "garbage line here\n"
        'labelled{a="1 2}",b="x"} 3 1700000000\n'
        "plain 4.5e1\n"
        "nan_value NaN\n"
        "inf_value +Inf\n"
        "\n"
        "bad_value abc\n"
    )
    metrics = parse_prometheus(text)
    assert metrics['labelled{a="1 2}",b="x"}'] == 3
    assert metrics["labelled"] == 3
    assert metrics["plain"] == 45
    assert metrics["inf_value"] == float("inf")
    assert "nan_value" not in metrics and "bad_value" not in metrics and "garbage" not in metrics


def test_parse_recorded_slots_payloads() -> None:
    idle = parse_slots(json.loads(SLOTS_IDLE))
    assert idle == (
        SlotInfo(id=0, is_processing=False, n_ctx=256),
        SlotInfo(id=1, is_processing=False, n_ctx=256),
    )

    after = parse_slots(json.loads(SLOTS_TEXT))
    assert after is not None and len(after) == 2
    used = next(s for s in after if s.id_task is not None)
    assert used.is_processing is False
    assert used.n_ctx == 256  # -c 512 split over -np 2 slots
    assert used.n_prompt_tokens is not None and used.n_prompt_tokens > 0
    assert used.n_decoded == 0  # a finished slot no longer reports its progress
    assert used.has_next_token is False

    busy = parse_slots(json.loads(SLOTS_BUSY))
    assert busy is not None
    (running,) = [s for s in busy if s.is_processing]
    assert running.n_decoded is not None and running.n_decoded >= 4
    assert running.n_remain is not None and running.n_decoded + running.n_remain == 240
    assert running.has_next_token is True


def test_parse_slots_tolerates_odd_shapes() -> None:
    assert parse_slots({"error": "x"}) is None
    assert parse_slots(None) is None
    odd = parse_slots([{"id": 3, "next_token": {"n_decoded": 2}}, 7, {"is_processing": True}])
    assert odd == (
        SlotInfo(id=3, is_processing=False, n_ctx=None, n_decoded=2),
        SlotInfo(id=2, is_processing=True, n_ctx=None),
    )


def test_decode_rate() -> None:
    def slot(task: int | None, decoded: int | None, processing: bool = True) -> SlotInfo:
        return SlotInfo(0, processing, 256, id_task=task, n_decoded=decoded)

    assert decode_rate(None, (slot(1, 5),), 1.0) is None
    assert decode_rate((slot(1, 5),), (slot(1, 15),), 2.0) == 5.0  # same task: the delta
    assert decode_rate((slot(1, 5),), (slot(2, 4),), 2.0) == 2.0  # new task: all of it
    assert decode_rate((slot(1, 5),), (slot(1, 0, processing=False),), 1.0) == 0.0


def _recorded(
    metrics_text: str, metrics_status: int = 200, slots: Iterator[str] | None = None
) -> Callable[[str], tuple[int, str]]:
    """Answers recorded from a real llama-server, by path."""

    def handler(path: str) -> tuple[int, str]:
        if path == "/health":
            return 200, json.dumps({"status": "ok"})
        if path == "/props":
            return 200, json.dumps(PROPS_JSON)
        if path == "/slots":
            return 200, SLOTS_TEXT if slots is None else next(slots)
        if path == "/metrics":
            if metrics_status != 200:
                return metrics_status, METRICS_DISABLED
            return 200, metrics_text
        return 404, ""

    return handler


async def test_server_collector_on_recorded_payloads() -> None:
    async with http_server(_recorded(METRICS_TEXT)) as (port, served):
        collector = ServerCollector(f"http://127.0.0.1:{port}")
        snap = await collector.collect()
        again = await collector.collect()
        await collector.aclose()

    assert snap.reachable is True and snap.health == 200 and snap.error is None
    assert snap.model_path == PROPS_JSON["model_path"]
    assert snap.total_slots == 2
    assert snap.n_ctx == PROPS_JSON["default_generation_settings"]["n_ctx"]
    assert snap.slots is not None and len(snap.slots) == 2
    assert snap.gen_tps is not None and snap.gen_tps > 0  # the gauge
    assert snap.requests_processing == 0 and snap.requests_deferred == 0
    assert snap.tokens_predicted_total == 8
    assert snap.kv_usage_pct is None  # this llama-server no longer exports kv_cache_* metrics
    assert snap.live_gen_tps is None  # needs two polls
    assert again.model_path == snap.model_path
    assert served.paths.count("/props") == 1  # cached while the server stays healthy
    assert served.connections <= 4  # kept alive: the second poll opened none


async def test_server_collector_live_rate_from_recorded_slots() -> None:
    handler = _recorded(METRICS_BUSY, slots=iter([SLOTS_IDLE, SLOTS_BUSY]))
    async with http_server(handler, framing="chunked") as (port, _served):
        collector = ServerCollector(f"http://127.0.0.1:{port}")
        first = await collector.collect()
        time.sleep(0.05)
        second = await collector.collect()
        await collector.aclose()
    assert first.live_gen_tps is None
    assert second.requests_processing == 1
    assert second.gen_tps == 0  # /metrics lags behind a running request...
    assert second.live_gen_tps is not None and second.live_gen_tps > 0  # .../slots does not


async def test_server_collector_rates_from_counters_without_gauges() -> None:
    lines = [
        line
        for line in METRICS_TEXT.splitlines()
        if "tokens_seconds" not in line  # drop both throughput gauges
    ]
    before = "\n".join(lines)
    after = before.replace(
        "llamacpp:tokens_predicted_total 8", "llamacpp:tokens_predicted_total 108"
    )
    assert after != before
    texts = iter([before, after])
    recorded = _recorded("")

    def handler(path: str) -> tuple[int, str]:
        return (200, next(texts)) if path == "/metrics" else recorded(path)

    async with http_server(handler, framing="close") as (port, _served):
        collector = ServerCollector(f"http://127.0.0.1:{port}")
        first = await collector.collect()
        time.sleep(0.1)
        second = await collector.collect()
        await collector.aclose()
    assert first.gen_tps is None and first.prompt_tps is None
    assert second.gen_tps is not None and 0 < second.gen_tps <= 100 / 0.1
    assert second.prompt_tps == 0.0


async def test_server_collector_metrics_disabled_is_none() -> None:
    async with http_server(_recorded(METRICS_TEXT, metrics_status=501)) as (port, _served):
        collector = ServerCollector(f"http://127.0.0.1:{port}")
        snap = await collector.collect()
        await collector.aclose()
    assert snap.reachable is True
    assert snap.gen_tps is None and snap.prompt_tps is None and snap.requests_processing is None
    assert snap.total_slots == 2


async def test_server_collector_nothing_listening(free_port: int) -> None:
    collector = ServerCollector(f"http://127.0.0.1:{free_port}")
    began = time.monotonic()
    snap = await collector.collect()
    await collector.aclose()
    assert time.monotonic() - began < 3
    assert snap.reachable is False and snap.health is None
    assert snap.error is not None and str(free_port) in snap.error


async def test_idle_server_costs_one_request_a_poll() -> None:
    async with http_server(_recorded(METRICS_TEXT)) as (port, served):
        collector = ServerCollector(f"http://127.0.0.1:{port}")
        snaps = [await collector.collect() for _ in range(10)]
        await collector.aclose()
    assert all(s.health == 200 and s.slots is not None for s in snaps)
    # /metrics answers 200, so the server is ready: no /health. /props once. /slots on the
    # first poll and every SLOTS_IDLE_EVERY-th while nothing runs.
    assert served.paths.count("/metrics") == 10
    assert served.paths.count("/health") == 0
    assert served.paths.count("/props") == 1
    assert served.paths.count("/slots") == 1 + (10 - 1) // SLOTS_IDLE_EVERY


async def test_switched_off_metrics_are_not_asked_again_until_a_restart() -> None:
    # llama-server without --metrics answers 501 and closes the connection: asking every
    # second cost a reconnect a second.
    loading = False
    recorded = _recorded(METRICS_TEXT, metrics_status=501)

    def handler(path: str) -> tuple[int, str]:
        if loading:  # llama-server answers 503 everywhere while it loads
            return 503, '{"error": {"message": "Loading model"}}'
        return recorded(path)

    async with http_server(handler) as (port, served):
        collector = ServerCollector(f"http://127.0.0.1:{port}")
        snaps = []
        for phase in ("ready", "ready", "ready", "loading", "ready", "ready"):
            loading = phase == "loading"
            snaps.append(await collector.collect())
        await collector.aclose()
    assert [s.health for s in snaps] == [200, 200, 200, 503, 200, 200]
    assert all(s.gen_tps is None and s.requests_processing is None for s in snaps)
    # Asked on the first poll, then not until the restart, then once more.
    assert served.paths.count("/metrics") == 2
    # While it is off, /slots is the readiness signal: one request a poll, and /health only
    # when /slots was not 200 (the restart).
    assert served.paths.count("/slots") == 6
    assert served.paths.count("/health") == 1
    assert served.connections == 1


def test_server_collector_refuses_non_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        ServerCollector("http://192.0.2.1:8080")
    with pytest.raises(ValueError, match="loopback"):
        ServerCollector("https://127.0.0.1:8080")
    ServerCollector("http://localhost:8080")
    ServerCollector("http://[::1]:8080")


# --- llama-server: live --------------------------------------------------------------------


@pytest.fixture(params=["--metrics"])
def live_server(
    request: pytest.FixtureRequest, llama_server_bin: Path, tiny_gguf: Path, free_port: int
) -> Iterator[str]:
    """A real llama-server on tiny; indirect parameter: its extra flags ("" for none)."""
    flags = str(request.param).split()
    proc = subprocess.Popen(
        [str(llama_server_bin), "-m", str(tiny_gguf), "--host", "127.0.0.1",
         "--port", str(free_port), *flags, "-c", "512", "-np", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{free_port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"llama-server exited with {proc.returncode}"
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        else:
            raise AssertionError("llama-server never became healthy")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.llama
async def test_server_collector_live(live_server: str, tiny_gguf: Path) -> None:
    collector = ServerCollector(live_server)
    snap = await collector.collect()
    assert snap.reachable is True and snap.health == 200 and snap.error is None
    assert snap.model_path is not None and Path(snap.model_path).name == tiny_gguf.name
    assert snap.total_slots == 2
    assert snap.slots is not None and len(snap.slots) == 2
    assert snap.n_ctx is not None and snap.n_ctx > 0
    assert snap.requests_processing == 0

    async with httpx.AsyncClient(trust_env=False) as client:
        reply = await client.post(
            f"{live_server}/completion", json={"prompt": "hello", "n_predict": 8}, timeout=30
        )
    assert reply.status_code == 200
    after = await collector.collect()
    await collector.aclose()
    assert after.tokens_predicted_total == 8
    assert after.gen_tps is not None and after.gen_tps > 0
    assert after.slots is not None and any(s.id_task is not None for s in after.slots)


@pytest.mark.llama
@pytest.mark.parametrize("live_server", [""], indirect=True)
async def test_server_without_metrics_is_polled_on_one_connection(live_server: str) -> None:
    # The real llama-server closes the connection after its 501 for /metrics.
    collector = ServerCollector(live_server)
    snaps = [await collector.collect() for _ in range(6)]
    opened = collector._client.connections_opened
    await collector.aclose()
    assert all(s.reachable and s.health == 200 and s.gen_tps is None for s in snaps)
    assert all(s.slots is not None and len(s.slots) == 2 for s in snaps)
    assert opened == 2  # the 501 closed the first; every later poll reused the second


async def test_server_collector_fetches_props_once_per_server_start() -> None:
    # Ready, ready, restarting (llama-server answers 503 everywhere while it loads), ready.
    phases = iter(["ready", "ready", "loading", "ready", "ready"])
    phase = "ready"
    recorded = _recorded(METRICS_TEXT)

    def handler(path: str) -> tuple[int, str]:
        nonlocal phase
        if path == "/metrics":  # the first request of each poll
            phase = next(phases)
        if phase == "loading":
            return 503, '{"error": {"message": "Loading model"}}'
        return recorded(path)

    async with http_server(handler) as (port, served):
        collector = ServerCollector(f"http://127.0.0.1:{port}")
        snaps = [await collector.collect() for _ in range(5)]
        await collector.aclose()
    # Fetched on the first poll, reused while healthy, dropped on a restart (503) and fetched
    # again once healthy.
    assert served.paths.count("/props") == 2
    assert [s.health for s in snaps] == [200, 200, 503, 200, 200]
    assert snaps[2].model_path is None  # never the old server's model while the new one loads
    assert all(snaps[i].model_path == PROPS_JSON["model_path"] for i in (0, 1, 3, 4))


def test_memory_facts_for_the_pool_from_nvml() -> None:
    """Stand-in NVML (no NVIDIA GPU on these machines): free VRAM per GPU, VRAM per PID set."""
    from llamadash.collectors.gpu import free_vram, vram_used_by

    fake = FakeNvml(server_pid=os.getpid())
    fake.nvmlDeviceGetMemoryInfo = lambda handle: SimpleNamespace(  # type: ignore[method-assign]
        used=2**30, total=8 * 2**30, free=(7 - handle) * 2**30
    )
    assert free_vram(fake) == [7 * 2**30, 6 * 2**30]
    assert vram_used_by({os.getpid()}, fake) == 512 * 2**20
    assert vram_used_by({1}, fake) == 0  # a GPU, but nothing of ours on it
    assert free_vram(FakeNvml(0, fail_init=True)) == []
    assert vram_used_by({1}, FakeNvml(0, fail_init=True)) is None
    # The real NVML here: no GPU, so no VRAM facts (the budget falls back to RAM).
    assert free_vram() == [] and vram_used_by({os.getpid()}) is None
