"""Fixed pane samples: the same values every run (snapshots and layout tests)."""

from __future__ import annotations

from llamadash.collectors.container import ContainerSnapshot
from llamadash.collectors.gpu import GpuInfo, GpuProcess, GpuSnapshot
from llamadash.collectors.server import ServerSnapshot
from llamadash.collectors.slots import SlotInfo
from llamadash.collectors.system import SystemSnapshot

NOW = 1_750_000_000.0  # the header's frozen clock in snapshots
GiB = 1024**3
MiB = 1024**2


def two_gpus() -> GpuSnapshot:
    server = GpuProcess(pid=48211, name="llama-server", vram_bytes=17_800 * MiB, is_server=True)
    desktop = GpuProcess(pid=2240, name="Xorg", vram_bytes=412 * MiB, is_server=False)
    return GpuSnapshot(
        available=True,
        reason="",
        gpus=(
            GpuInfo(
                0,
                "NVIDIA GeForce RTX 4090",
                87.0,
                19 * GiB,
                24 * GiB,
                71.0,
                312.4,
                450.0,
                (server, desktop),
            ),
            GpuInfo(
                1,
                "NVIDIA GeForce RTX 3090",
                12.0,
                22 * GiB + 800 * MiB,
                24 * GiB,
                86.0,
                118.0,
                350.0,
                (),
            ),
        ),
        at=NOW,
    )


def no_gpu() -> GpuSnapshot:
    return GpuSnapshot(available=False, reason="No NVIDIA GPU found", gpus=(), at=NOW)


def system() -> SystemSnapshot:
    return SystemSnapshot(
        cpu_pct=23.5,
        per_core=(12.0, 88.0, 40.0, 5.0, 100.0, 62.0, 30.0, 0.0, 18.0, 75.0, 50.0, 25.0),
        ram_used=41 * GiB,
        ram_total=64 * GiB,
        swap_used=512 * MiB,
        swap_total=8 * GiB,
        load_avg=(2.15, 1.80, 1.42),
        disk_read_bps=12.5 * MiB,
        disk_write_bps=300 * 1024,
        net_recv_bps=1.2 * MiB,
        net_sent_bps=64 * 1024,
        at=NOW,
    )


def container() -> ContainerSnapshot:
    return ContainerSnapshot(
        present=True,
        name="llamadash-llama-server-1",
        id="3969349b850e1c2d3e4f",
        state="running",
        health="healthy",
        started_at=NOW - 125,
        uptime_s=125.0,
        restarts=0,
        cpu_pct=312.0,
        cpus=16,
        mem_used=3 * GiB,
        mem_limit=64 * GiB,
        image="ghcr.io/ggml-org/llama.cpp:server-cuda",
        at=NOW,
    )


def server() -> ServerSnapshot:
    return ServerSnapshot(
        reachable=True,
        health=200,
        model_path="/models/qwen3-coder-30b-a3b-q4_k_m.gguf",
        n_ctx=65536,
        total_slots=2,
        slots=(SlotInfo(0, True, 65536, n_decoded=412), SlotInfo(1, False, 65536)),
        prompt_tps=1830.4,
        gen_tps=139.8,
        requests_processing=1,
        requests_deferred=0,
        kv_usage_pct=18.0,
        at=NOW,
        error=None,
    )
