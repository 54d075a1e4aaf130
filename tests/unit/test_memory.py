"""Memory facts: sizes, llama-server's buffer lines, /proc RSS, the budget and the memory book.

``payloads/llama_load_gemma_lv4.log`` is the real output of the test bed's llama-server loading
Gemma 3 270M at ``-c 2048 -lv 4``; ``llama_load_tiny_default.log`` is tiny at the default
verbosity (no buffer line at all). The CUDA, Vulkan and older spellings below are copied from
logs published in llama.cpp issues (there is no GPU here to produce them).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from llamadash.core.memory import (
    Budget,
    BufferTally,
    available_memory,
    format_size,
    memory_budget,
    on_host,
    parse_size,
    tree_rss,
)
from llamadash.core.memory_book import (
    KEEP_PER_PROFILE,
    Measurement,
    MemoryBook,
    args_hash,
    model_identity,
)
from llamadash.core.statefile import LoadHistory

PAYLOADS = Path(__file__).parent / "payloads"
MIB = 1 << 20
GIB = 1 << 30


# --- sizes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("123", 123),
        ("0", 0),
        ("123B", 123),
        ("8GiB", 8 * GIB),
        ("8 GB", 8 * GIB),  # binary on purpose, like nvidia-smi and llama-server's MiB
        ("8g", 8 * GIB),
        ("1.5G", 3 * GIB // 2),
        ("512MiB", 512 * MIB),
        ("2048M", 2 * GIB),
        ("2048 mb", 2 * GIB),
        ("100K", 102_400),
        ("100 KiB", 102_400),
        ("1T", 1 << 40),
        (" .5 GiB ", GIB // 2),
        ("3.", 3),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    "text", ["", "GiB", "-1G", "8 GiBs", "8 X", "1e9", "nan", "inf", "8 ib", "1,5G", "auto"]
)
def test_parse_size_refuses_with_a_clear_message(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a size: .*units are binary"):
        parse_size(text)


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0 B"),
        (512, "512 B"),
        (12 * 1024, "12 KiB"),
        (830 * MIB, "830 MiB"),
        (1536 * 1024, "1.5 MiB"),
        (10 * MIB, "10 MiB"),
        (int(5.1 * GIB), "5.1 GiB"),
        (int(18.4 * GIB), "18.4 GiB"),
        (3 << 40, "3.0 TiB"),
        (-int(1.5 * GIB), "-1.5 GiB"),
    ],
)
def test_format_size(n: int, expected: str) -> None:
    assert format_size(n) == expected


def test_format_and_parse_agree_on_round_figures() -> None:
    for n in (512 * MIB, 2 * GIB, 7 * 1024):
        assert parse_size(format_size(n).replace(" ", "")) == n


# --- buffer lines ---------------------------------------------------------------------------


def test_tally_of_a_real_gemma_load() -> None:
    tally = BufferTally()
    lines = (PAYLOADS / "llama_load_gemma_lv4.log").read_text().splitlines()
    counted = [line for line in lines if tally.feed(line)]
    assert len(counted) == 6
    # The two summary lines ("llama_kv_cache: size = 6.00 MiB (...)") and "prompt cache ...
    # size limit: 8192 MiB" are not buffers.
    assert all("buffer size" in line for line in counted)
    assert tally.parts == {
        "model": {"CPU_Mapped": round(235.16 * MIB), "CPU_REPACK": round(12.66 * MIB)},
        "kv": {"CPU": 36 * MIB},  # non-SWA 6.00 + SWA 30.00 on one device: summed
        "compute": {"CPU": round(22.28 * MIB)},
        "output": {"CPU": 4 * MIB},
    }
    assert tally.total_bytes == sum(round(mib * MIB) for mib in (235.16, 12.66, 36, 22.28, 4))
    assert tally.kind_bytes("kv") == 36 * MIB
    assert tally.device_bytes()["CPU"] == round((36 + 22.28 + 4) * MIB)


def test_default_verbosity_logs_no_buffer_line() -> None:
    tally = BufferTally()
    lines = (PAYLOADS / "llama_load_tiny_default.log").read_text().splitlines()
    assert "llama_server: model loaded" in "\n".join(lines)
    assert not any(tally.feed(line) for line in lines)
    assert tally.total_bytes == 0


@pytest.mark.parametrize(
    ("line", "kind", "device", "mib"),
    [
        ("llama_kv_cache:      CUDA0 KV buffer size =   182.75 MiB", "kv", "CUDA0", 182.75),
        (
            "llama_context:  CUDA_Host  output buffer size =     0.49 MiB",
            "output",
            "CUDA_Host",
            0.49,
        ),
        (
            "sched_reserve:      CUDA1 compute buffer size =   672.01 MiB",
            "compute",
            "CUDA1",
            672.01,
        ),
        ("load_tensors:        CUDA0 model buffer size =  4403.50 MiB", "model", "CUDA0", 4403.5),
        ("llm_load_tensors:      CUDA0 buffer size =  5434.38 MiB", "model", "CUDA0", 5434.38),
        ("llm_load_tensors:        CPU buffer size =  1640.62 MiB", "model", "CPU", 1640.62),
        ("llama_kv_cache_init:      CUDA1 KV buffer size =  3584.00 MiB", "kv", "CUDA1", 3584),
        (
            "llama_new_context_with_model:      CUDA0 compute buffer size =   672.01 MiB",
            "compute",
            "CUDA0",
            672.01,
        ),
        ("init:    Vulkan0 KV buffer size = 19200.00 MiB", "kv", "Vulkan0", 19200),
        (
            "llama_context:    Vulkan0 compute buffer size =  1174.00 MiB",
            "compute",
            "Vulkan0",
            1174,
        ),
        (
            "llama_context: Vulkan_Host compute buffer size =    18.01 MiB",
            "compute",
            "Vulkan_Host",
            18.01,
        ),
        (
            "\x1b[34m1.14.610.021\x1b[0m \x1b[32mI \x1b[0mllama_kv_cache:      CUDA0 KV buffer"
            " size =   182.75 MiB",
            "kv",
            "CUDA0",
            182.75,
        ),
        (
            "0.02.276.248 I load_tensors:   CPU_Mapped model buffer size = 1.5 GiB",
            "model",
            "CPU_Mapped",
            1536,
        ),
    ],
)
def test_tally_reads_every_known_spelling(line: str, kind: str, device: str, mib: float) -> None:
    tally = BufferTally()
    assert tally.feed(line)
    assert tally.parts[kind] == {device: round(mib * MIB)}
    assert tally.total_bytes == round(mib * MIB)


@pytest.mark.parametrize(
    "line",
    [
        "llama_kv_cache: size =    6.00 MiB (  2048 cells,   3 layers,  4/1 seqs), K (f16): 3 MiB",
        "llama_new_context_with_model: KV self size  = 5120.00 MiB, K (f16): 2560.00 MiB",
        "llm_load_tensors: ggml ctx size =    0.37 MiB",
        "ggml_gallocr_reserve_n: failed to allocate Vulkan0 buffer of size 2166360064",
        "srv    load_model: prompt cache is enabled, size limit: 8192 MiB",
        "load: token to piece cache size = 1.9446 MB",
        "some_other: CPU buffer size = 12.00 MiB",  # no kind word, not the weights line
        "",
    ],
)
def test_tally_ignores_lines_that_are_not_buffers(line: str) -> None:
    tally = BufferTally()
    assert not tally.feed(line)
    assert tally.total_bytes == 0


def test_host_devices() -> None:
    assert [
        on_host(d) for d in ("CPU", "CPU_Mapped", "CPU_REPACK", "CUDA_Host", "Vulkan_Host")
    ] == [True] * 5
    assert not any(on_host(d) for d in ("CUDA0", "Vulkan1", "ROCm0", "Metal"))


# --- /proc ----------------------------------------------------------------------------------


def _fake_proc(
    root: Path, processes: dict[int, tuple[int, str, int]], *, child_lists: bool = True
) -> Path:
    """A /proc with ``pid: (ppid, comm, resident pages)``; without ``child_lists`` as from a
    kernel built without CONFIG_PROC_CHILDREN (task dirs, no children files)."""
    for pid, (ppid, comm, pages) in processes.items():
        entry = root / str(pid)
        (entry / "task" / str(pid)).mkdir(parents=True)
        (entry / "stat").write_text(f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194560\n")
        (entry / "statm").write_text(f"{pages * 3} {pages} 100 10 0 50 0\n")
    if child_lists:
        for pid in processes:
            kids = [str(c) for c, (ppid, _, _) in processes.items() if ppid == pid]
            (root / str(pid) / "task" / str(pid) / "children").write_text(" ".join(kids) + " ")
    (root / "self").mkdir(exist_ok=True)  # non-numeric entries are skipped
    (root / "meminfo").write_text("MemTotal: 100 kB\nMemAvailable:    2048 kB\n")
    return root


@pytest.mark.parametrize("child_lists", [True, False])
def test_tree_rss_sums_a_process_and_all_its_descendants(tmp_path: Path, child_lists: bool) -> None:
    page = os.sysconf("SC_PAGE_SIZE")
    proc = _fake_proc(
        tmp_path,
        {
            1: (0, "systemd", 1000),
            50: (1, "tini", 2),
            51: (50, "llama-server", 300),
            52: (51, "odd) name (x", 7),  # a comm with parentheses and spaces
            60: (1, "unrelated", 999),
        },
        child_lists=child_lists,
    )
    assert tree_rss(50, proc) == (2 + 300 + 7) * page
    assert tree_rss(51, proc) == (300 + 7) * page
    assert tree_rss(52, proc) == 7 * page
    assert tree_rss(99, proc) is None


def test_tree_rss_with_threads_that_have_children(tmp_path: Path) -> None:
    page = os.sysconf("SC_PAGE_SIZE")
    proc = _fake_proc(tmp_path, {10: (1, "server", 5), 11: (10, "a", 6), 12: (10, "b", 7)})
    # Process 10 has a second thread (tid 13) that started child 12.
    (proc / "10" / "task" / "10" / "children").write_text("11 ")
    (proc / "10" / "task" / "13").mkdir()
    (proc / "10" / "task" / "13" / "children").write_text("12 ")
    assert tree_rss(10, proc) == (5 + 6 + 7) * page


def test_tree_rss_survives_a_child_that_exits_mid_walk(tmp_path: Path) -> None:
    page = os.sysconf("SC_PAGE_SIZE")
    proc = _fake_proc(tmp_path, {10: (1, "parent", 5), 11: (10, "child", 6)})
    (proc / "11" / "statm").unlink()  # gone between the stat scan and the statm read
    assert tree_rss(10, proc) == 5 * page


def test_tree_rss_of_real_processes() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "print('up', flush=True); input()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"up\n"
        alone = tree_rss(child.pid)
        assert alone is not None and alone > 1 * MIB
        mine = tree_rss(os.getpid())
        assert mine is not None and mine >= alone + 1 * MIB  # this process plus the child
    finally:
        child.communicate(b"\n")
    assert tree_rss(child.pid) is None  # reaped: gone


def test_available_memory(tmp_path: Path) -> None:
    assert available_memory(_fake_proc(tmp_path, {}) / "meminfo") == 2048 * 1024
    assert available_memory() > 16 * MIB  # the real one
    (tmp_path / "old").write_text("MemTotal: 100 kB\nMemFree: 50 kB\n")
    with pytest.raises(ValueError, match="MemAvailable"):
        available_memory(tmp_path / "old")


# --- budget ---------------------------------------------------------------------------------


def test_auto_budget_is_free_vram_when_there_are_gpus(tmp_path: Path) -> None:
    meminfo = _fake_proc(tmp_path, {}) / "meminfo"
    budget = memory_budget("auto", "1GiB", lambda: [3 * GIB, 5 * GIB], meminfo)
    assert budget == Budget(7 * GIB, "vram", GIB, (3 * GIB, 5 * GIB))
    assert budget.describe() == "7.0 GiB free VRAM on 2 GPUs after a 1.0 GiB reserve"
    one = memory_budget("AUTO", "0", lambda: [GIB], meminfo)
    assert one.describe() == "1.0 GiB free VRAM on 1 GPU"


def test_auto_budget_is_available_ram_without_gpus(tmp_path: Path) -> None:
    meminfo = _fake_proc(tmp_path, {}) / "meminfo"
    for gpu_free in (None, lambda: []):
        budget = memory_budget("auto", "512KiB", gpu_free, meminfo)
        assert budget == Budget(1536 * 1024, "ram", 512 * 1024)
        assert budget.describe() == "1.5 MiB available RAM after a 512 KiB reserve"
    # A reserve larger than what is free leaves nothing, never a negative budget.
    assert memory_budget("auto", "1G", None, meminfo).limit == 0
    real = memory_budget("auto", "0")
    assert real.kind == "ram" and real.limit > 16 * MIB


def test_set_budget_is_taken_as_stated(tmp_path: Path) -> None:
    budget = memory_budget("8GB", "1GiB", lambda: [GIB])
    assert budget == Budget(8 * GIB, "set")
    assert budget.describe() == "8.0 GiB (memory_budget)"


def test_budget_errors_are_not_hidden() -> None:
    with pytest.raises(ValueError, match="not a size: 'lots'"):
        memory_budget("lots", "0")
    with pytest.raises(ValueError, match="not a size: 'some'"):
        memory_budget("auto", "some")

    def broken() -> list[int]:
        raise RuntimeError("NVML: driver not loaded")

    with pytest.raises(RuntimeError, match="NVML"):
        memory_budget("auto", "0", broken)


# --- the memory book ------------------------------------------------------------------------


def test_book_round_trip_and_misses(tmp_path: Path) -> None:
    book = MemoryBook(tmp_path / "state" / "state.toml")
    assert book.get("gemma", "abc") is None  # no file yet
    measured = Measurement(rss=350 * MIB, buffers=310 * MIB, at=1_700_000_000.5)
    book.record("gemma", "abc", measured)
    assert book.get("gemma", "abc") == measured
    assert book.get("gemma", "other") is None
    assert book.get("tiny", "abc") is None
    on_gpu = Measurement(rss=90 * MIB, buffers=5 * GIB, at=1.0, vram=6 * GIB)
    book.record("qwen.v2 [big]", "k", on_gpu)  # any profile id survives TOML quoting
    assert MemoryBook(book.path).get("qwen.v2 [big]", "k") == on_gpu
    assert [p.name for p in book.path.parent.iterdir()] == ["state.toml"]  # no tmp left
    assert measured.source == "measured"
    assert measured.expected == 350 * MIB and on_gpu.expected == 6 * GIB


def test_book_shares_the_state_file_with_load_history(tmp_path: Path) -> None:
    path = tmp_path / "state.toml"
    history, book = LoadHistory(path), MemoryBook(path)
    history.record("tiny", 0.25)
    book.record("tiny", "k1", Measurement(1, 2, 3.0))
    history.record("tiny", 0.5)
    assert history.get("tiny") == [0.25, 0.5]
    assert book.get("tiny", "k1") == Measurement(1, 2, 3.0)
    assert set(tomllib.loads(path.read_text())) == {"load_seconds", "memory"}


def test_book_keeps_the_newest_few_per_profile(tmp_path: Path) -> None:
    book = MemoryBook(tmp_path / "state.toml")
    for n in range(KEEP_PER_PROFILE + 3):
        book.record("p", f"key{n}", Measurement(n, n, float(n)))
    book.record("q", "only", Measurement(1, 1, 0.0))
    assert [book.get("p", f"key{n}") is None for n in range(3)] == [True] * 3
    assert book.get("p", f"key{KEEP_PER_PROFILE + 2}") == Measurement(
        KEEP_PER_PROFILE + 2, KEEP_PER_PROFILE + 2, float(KEEP_PER_PROFILE + 2)
    )
    assert len(tomllib.loads(book.path.read_text())["memory"]["p"]) == KEEP_PER_PROFILE
    assert book.get("q", "only") is not None


def test_book_tolerates_a_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "state.toml"
    path.write_text("this is = = not toml")
    book = MemoryBook(path)
    assert book.get("p", "k") is None
    book.record("p", "k", Measurement(1, 2, 3.0))  # starts over
    assert book.get("p", "k") == Measurement(1, 2, 3.0)
    path.write_text('memory = "oops"\n')
    assert book.get("p", "k") is None
    path.write_text('[memory.p.k]\nrss = "many"\nbuffers = 1\nat = 1.0\n[memory.p.j]\nrss = 1\n')
    assert book.get("p", "k") is None and book.get("p", "j") is None
    book.record("p", "new", Measurement(5, 6, 7.0))
    assert book.get("p", "new") == Measurement(5, 6, 7.0)


def test_args_hash(tmp_path: Path) -> None:
    args = ("--model", "/models/g.gguf", "--ctx-size", "2048", "-ngl", "99")
    key = args_hash(args, "253113024:1")
    assert len(key) == 16 and int(key, 16) >= 0
    assert args_hash(list(args), "253113024:1") == key  # stable, any sequence
    assert args_hash((*args, "--port", "8100", "--host", "127.0.0.1"), "253113024:1") == key
    assert args_hash((*args, "--port=8101"), "253113024:1") == key
    assert (
        args_hash(("--model", "/models/g.gguf", "--ctx-size", "4096", "-ngl", "99"), "253113024:1")
        != key
    )
    assert args_hash(args, "253113024:2") != key
    # Arguments are hashed as a list, not as one joined string.
    assert args_hash(("-c", "20", "48"), "x") != args_hash(("-c", "2048"), "x")


def test_model_identity_follows_the_file(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"a" * 10)
    os.utime(model, ns=(1, 1_000_000_000))
    first = model_identity(model)
    assert first == "10:1000000000"
    model.write_bytes(b"b" * 11)
    assert model_identity(model) != first
    with pytest.raises(FileNotFoundError):
        model_identity(tmp_path / "absent.gguf")


def test_importing_the_memory_modules_loads_no_numpy_gguf_or_tomli_w() -> None:
    # The pool imports these on every start; gguf pulls numpy (0.3 s), only an estimate needs it.
    modules = "memory, memory_book, gguf_estimate, gguf_header"
    code = (
        f"import sys; from llamadash.core import {modules}; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'gguf', 'tomli_w')); "
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"loaded: {done.stdout.strip()} {done.stderr[-500:]}"
