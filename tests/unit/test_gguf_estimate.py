"""The GGUF estimate on real files: tiny (written by gguf), Gemma 3 270M, and odd shapes.

The odd shapes (per-layer head counts, no head size, recurrent, split) are written with gguf's
own GGUFWriter, as a converter would; only their metadata matters here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import gguf
import numpy as np
import pytest

from llamadash.core.gguf_estimate import (
    BASE_OVERHEAD,
    OVERHEAD_PER_TOKEN,
    Estimate,
    estimate_memory,
)
from llamadash.core.gguf_header import ArrayInfo, model_files, read_metadata
from tests.support import tiny_gguf

MIB = 1 << 20
TINY_VOCAB = 354


def _tiny_kv(cells: int, k_bytes: float = 2, v_bytes: float = 2) -> int:
    row = tiny_gguf.N_HEAD_KV * tiny_gguf.HEAD_DIM
    return int(tiny_gguf.N_LAYER * cells * row * (k_bytes + v_bytes))


def test_tiny_estimate_from_first_principles(tiny_gguf: Path) -> None:
    estimate = estimate_memory(tiny_gguf, ("--model", str(tiny_gguf), "--ctx-size", "2048"))
    assert isinstance(estimate, Estimate) and estimate.source == "estimate"
    assert estimate.n_ctx == 2048
    assert estimate.weights == tiny_gguf.stat().st_size
    assert estimate.kv == _tiny_kv(2048) == 1 * MIB  # what llama-server logs for it, too
    assert estimate.overhead == BASE_OVERHEAD + OVERHEAD_PER_TOKEN * TINY_VOCAB
    assert estimate.total == estimate.weights + estimate.kv + estimate.compute + estimate.overhead
    # f16 mask 512 x 2048, activations 5 x 512 x 4 B x 128, logits 2 x 354 x 4 B x 4 slots.
    assert estimate.compute == 512 * 2048 * 2 + 5 * 512 * 4 * 128 + 2 * TINY_VOCAB * 4 * 4


@pytest.mark.parametrize(
    ("args", "n_ctx"),
    [
        ((), 2048),  # absent: the trained context_length
        (("-c", "0"), 2048),
        (("--ctx-size=1000",), 1024),  # llama-server pads to 256 cells
        (("-c", "100"), 256),
        (("--ctx_size", "8192"), 8192),  # beyond the trained context: not capped
        (("-c", "512", "--ctx-size", "4096"), 4096),  # the last one wins
        (("--kv-unified-per-slot", "1024"), 4096),  # no -c: slots x per-slot
        (("--kv-unified-per-slot", "1024", "-np", "2"), 2048),
        (("-c", "512", "--kv-unified-per-slot", "1024"), 512),
    ],
)
def test_context_from_the_args(tiny_gguf: Path, args: tuple[str, ...], n_ctx: int) -> None:
    estimate = estimate_memory(tiny_gguf, args)
    assert (estimate.n_ctx, estimate.kv) == (n_ctx, _tiny_kv(n_ctx))


@pytest.mark.parametrize(
    ("args", "k_bytes", "v_bytes"),
    [
        (("-ctk", "q8_0", "-ctv", "q8_0"), 34 / 32, 34 / 32),
        (("--cache-type-k", "q4_0"), 18 / 32, 2),
        (("--cache-type-k=F32", "--cache-type-v=bf16"), 4, 2),
        (("-ctv", "q5_1"), 2, 24 / 32),
    ],
)
def test_cache_types(
    tiny_gguf: Path, args: tuple[str, ...], k_bytes: float, v_bytes: float
) -> None:
    assert estimate_memory(tiny_gguf, ("-c", "4096", *args)).kv == _tiny_kv(4096, k_bytes, v_bytes)


def test_compute_follows_batch_slots_and_flash_attention(tiny_gguf: Path) -> None:
    base = estimate_memory(tiny_gguf, ("-c", "2048")).compute
    assert estimate_memory(tiny_gguf, ("-c", "2048", "-ub", "256")).compute < base
    assert estimate_memory(tiny_gguf, ("-c", "2048", "-b", "256")).compute < base  # ubatch <= batch
    assert estimate_memory(tiny_gguf, ("-c", "2048", "-np", "1")).compute < base
    off = estimate_memory(tiny_gguf, ("-c", "2048", "-fa", "off")).compute
    # f32 mask instead of f16 (+2 MiB) and the f32 scores of 2 heads (+8 MiB).
    assert off - base == 512 * 2048 * 2 + 2 * 512 * 2048 * 4
    assert estimate_memory(tiny_gguf, ("-c", "2048", "-fa", "on")).compute == base


def test_bad_arguments_name_themselves(tiny_gguf: Path) -> None:
    with pytest.raises(ValueError, match=r"--ctx-size 'big' is not a whole number"):
        estimate_memory(tiny_gguf, ("-c", "big"))
    with pytest.raises(ValueError, match=r"unknown KV cache type 'q3_x'"):
        estimate_memory(tiny_gguf, ("-ctk", "q3_x"))


def test_gemma_estimate_and_speed(gemma_gguf: Path) -> None:
    started = time.perf_counter()
    estimate = estimate_memory(gemma_gguf, ("--model", str(gemma_gguf), "-c", "2048"))
    elapsed = time.perf_counter() - started
    # 18 layers x 2048 cells x 1 KV head x (256 + 256) x f16: the 6.00 + 30.00 MiB it logs.
    assert estimate.kv == 18 * 2048 * 1 * 512 * 2 == 36 * MIB
    assert estimate.weights == gemma_gguf.stat().st_size == 253_113_024
    assert estimate.overhead == BASE_OVERHEAD + OVERHEAD_PER_TOKEN * 262_144
    # Sliding-window layers are counted at the full trained context (an upper bound).
    trained = estimate_memory(gemma_gguf, ())
    assert (trained.n_ctx, trained.kv) == (32768, 18 * 32768 * 512 * 2)
    assert elapsed < 2.0, elapsed  # gguf's GGUFReader took 25 s on this file


def _write(path: Path, arch: str, fields: Callable[[gguf.GGUFWriter], None], **kw: int) -> Path:
    writer = gguf.GGUFWriter(path, arch, **kw)
    fields(writer)
    for n in range(3):
        writer.add_tensor(f"t{n}", np.full((4, 8), n, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _common(w: gguf.GGUFWriter, n_layer: int = 4) -> None:
    w.add_context_length(1024)
    w.add_embedding_length(256)
    w.add_block_count(n_layer)
    w.add_token_list(["a", "b", "c"])


def test_per_layer_heads_and_head_size_fallback(tmp_path: Path) -> None:
    def fields(w: gguf.GGUFWriter) -> None:
        _common(w)
        w.add_feed_forward_length([512, 512, 1024, 512])
        w.add_head_count([8, 8, 8, 4])
        w.add_head_count_kv([2, 0, 4, 1])  # layer 1 has no attention (a hybrid model)

    path = _write(tmp_path / "hybrid.gguf", "llama", fields)
    estimate = estimate_memory(path, ("-c", "1024"))
    # No key_length: head size = embedding_length / head_count per layer (32, 32, 32, 64).
    assert estimate.kv == 1024 * 2 * (2 * 32 + 0 + 4 * 32 + 1 * 64) * 2
    assert estimate.overhead == BASE_OVERHEAD + OVERHEAD_PER_TOKEN * 3
    assert read_metadata(path)["llama.attention.head_count_kv"].values == (2, 0, 4, 1)


def test_recurrent_model_has_no_kv_cache(tmp_path: Path) -> None:
    path = _write(tmp_path / "mamba.gguf", "mamba", _common)
    estimate = estimate_memory(path, ("-c", "4096"))
    assert estimate.kv == 0 and estimate.n_ctx == 4096
    assert estimate.weights == path.stat().st_size


def test_per_layer_array_of_the_wrong_length(tmp_path: Path) -> None:
    def fields(w: gguf.GGUFWriter) -> None:
        _common(w)
        w.add_head_count([8, 8])

    path = _write(tmp_path / "bad.gguf", "llama", fields)
    with pytest.raises(
        ValueError, match=r"bad\.gguf: llama\.attention\.head_count has 2 values for 4"
    ):
        estimate_memory(path, ())


def test_missing_hyperparameters_name_the_file(tmp_path: Path) -> None:
    def no_layers(w: gguf.GGUFWriter) -> None:
        w.add_context_length(1024)
        w.add_embedding_length(256)

    path = _write(tmp_path / "nolayers.gguf", "llama", no_layers)
    with pytest.raises(ValueError, match=r"nolayers\.gguf: GGUF has no usable llama\.block_count"):
        estimate_memory(path, ())


def test_split_model_weights_sum_every_part(tmp_path: Path) -> None:
    def fields(w: gguf.GGUFWriter) -> None:
        _common(w, n_layer=1)
        w.add_head_count(4)

    _write(tmp_path / "big.gguf", "llama", fields, split_max_tensors=1)
    parts = sorted(tmp_path.glob("big-*.gguf"))
    assert [p.name for p in parts] == [f"big-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    assert model_files(parts[0]) == parts
    estimate = estimate_memory(parts[0], ("-c", "256"))
    assert estimate.weights == sum(p.stat().st_size for p in parts)
    assert estimate.kv == 256 * 4 * (64 + 64) * 2
    parts[2].unlink()
    with pytest.raises(
        ValueError, match=r"big-00001-of-00003\.gguf: split model is missing big-00003"
    ):
        estimate_memory(parts[0], ())


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "cannot mmap an empty file"),
        (b"this is not a gguf file\n" * 10, "GGUF magic missing"),
        (b"GGUF\x03\x00\x00\x00" + b"\x00" * 8 + b"\x05" + b"\x00" * 7 + b"\xff" * 8, "runs past"),
        (b"GGUF\x03\x00\x00\x00" + b"\x00" * 8 + b"\x05" + b"\x00" * 7, "unpack_from requires"),
        (b"GGUF\x00\x00\x00\x03" + b"\x00" * 16, "big-endian"),
    ],
)
def test_bad_gguf_is_a_clear_error_naming_the_file(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "broken.gguf"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"broken\.gguf: not a readable GGUF file") as caught:
        estimate_memory(path, ())
    assert reason in str(caught.value)


def test_truncated_real_model(tiny_gguf: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(tiny_gguf.read_bytes()[:3000])  # inside the vocabulary
    with pytest.raises(ValueError, match=r"cut\.gguf: not a readable GGUF file"):
        estimate_memory(cut, ())


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"absent\.gguf: not a readable GGUF file .*No such file"):
        estimate_memory(tmp_path / "absent.gguf", ())


def test_long_arrays_keep_only_their_length(gemma_gguf: Path) -> None:
    meta = read_metadata(gemma_gguf)
    tokens = meta["tokenizer.ggml.tokens"]
    assert isinstance(tokens, ArrayInfo) and (tokens.length, tokens.values) == (262_144, None)
    assert meta["gemma3.attention.sliding_window"] == 512
    assert meta["general.architecture"] == "gemma3"
