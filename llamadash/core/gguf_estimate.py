"""What a llama-server launch should need, from the GGUF's metadata and its arguments.

Used only until the profile has been measured once (see ``core.memory_book``), and shown as an
estimate. Every part errs high rather than low: a refusal that was not needed costs a message,
an admission that was wrong costs an out-of-memory kill.

The constants below were fitted to llama-server's own buffer lines (``-lv 4``) and to the RSS
of its process with the test bed's CPU llama-server build, on tiny (2 layers, 354 tokens) and Gemma
3 270M (18 layers, 262,144 tokens), at -c 512..32768, -np 1/2/auto, -ub 256/512, -fa auto/off,
q8_0/q4_0 caches (14 launches):

- KV matched to the byte wherever every layer got the full context; sliding-window layers
  (Gemma's 15 of 18) get only about n_swa × n_parallel + n_ubatch cells unless ``--swa-full``:
  counted here at the full context, an upper bound (Gemma at -c 0: 576 MiB vs 133.5 MiB).
- compute (compute buffer + logits output buffer): +1..+7 % over the logged sizes on tiny,
  +15..+62 % on Gemma (the top where its sliding-window masks are counted at full context).
- overhead (process, threads, HTTP server, tokenizer tables): RSS minus the logged buffers was
  3-14 MiB on tiny, 12-52 MiB on Gemma; allowed 16 MiB + 128 B per vocabulary token.
- the total was 1.03..2.13 × the measured RSS, never below it.

Not counted: a CUDA/ROCm context (hundreds of MiB of VRAM per process; no GPU to measure it on),
--mmproj and draft models, the prompt cache (``--cache-ram``, 8 GiB by default, grows with use).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from llamadash.core.flags import flag_name
from llamadash.core.gguf_header import ArrayInfo, model_files, read_metadata

MIB = 1 << 20
# llama-server rounds the context up to a multiple of 256 cells (1000 → 1024, measured).
CTX_PAD = 256
# -np/--parallel default -1 ("auto"): this build then uses 4 slots, one unified KV cache.
AUTO_PARALLEL = 4
DEFAULT_UBATCH = 512
DEFAULT_BATCH = 2048
# Live activations of one micro-batch, in widths of the model's widest layer (f32): 3.6 and 4.6
# measured (Gemma, tiny), rounded up.
ACTIVATION_WIDTHS = 5
BASE_OVERHEAD = 16 * MIB
OVERHEAD_PER_TOKEN = 128

_CTX = ("-c", "--ctx-size")
_PARALLEL = ("-np", "--parallel")
_UBATCH = ("-ub", "--ubatch-size")
_BATCH = ("-b", "--batch-size")
_CACHE_K = ("-ctk", "--cache-type-k")
_CACHE_V = ("-ctv", "--cache-type-v")
_FLASH = ("-fa", "--flash-attn")
_PER_SLOT = ("--kv-unified-per-slot",)


@dataclass(frozen=True)
class Estimate:
    """Expected bytes of one launch, by part; shown as an estimate, never as a measurement."""

    weights: int  # the GGUF file(s), all parts of a split model
    kv: int  # the KV cache at n_ctx cells, every attention layer (see the module docstring)
    compute: int  # compute buffers + logits output buffer
    overhead: int  # the process itself and the tokenizer
    n_ctx: int  # cells the estimate assumed (after the trained-context default and padding)
    source: Literal["estimate"] = "estimate"

    @property
    def total(self) -> int:
        """The sum of the parts: what admission compares with the budget."""
        return self.weights + self.kv + self.compute + self.overhead


def estimate_memory(model_path: Path, args: Sequence[str]) -> Estimate:
    """Estimate what llama-server needs to serve ``model_path`` with ``args``.

    ``args`` is the llama-server argument list the profile runs with; read from it: -c/--ctx-size
    (0 or absent: the model's trained context), -ctk/-ctv (default f16), -np, -ub, -b, -fa and
    --kv-unified-per-slot, spelled either ``-c 2048`` or ``--ctx-size=2048``; the last one wins,
    as in llama-server.

    Raises:
        ValueError: the GGUF is unreadable or lacks what an estimate needs, or an argument is
            not a number or cache type (the message names the file or the argument).
    """
    files = model_files(model_path)
    meta = read_metadata(files[0])
    shape = _Shape(meta, model_path)
    parallel = _int(args, _PARALLEL, -1)
    n_seq = parallel if parallel > 0 else AUTO_PARALLEL
    ctx = _int(args, _CTX, 0)
    if ctx <= 0:
        per_slot = _int(args, _PER_SLOT, 0)
        ctx = n_seq * per_slot if per_slot > 0 else shape.trained_ctx
    n_ctx = math.ceil(ctx / CTX_PAD) * CTX_PAD
    ubatch = min(_int(args, _UBATCH, DEFAULT_UBATCH), _int(args, _BATCH, DEFAULT_BATCH))
    k_type = _cache_type(_value(args, _CACHE_K) or "f16")
    v_type = _cache_type(_value(args, _CACHE_V) or "f16")
    kv = n_ctx * sum(
        _row(k_type, heads * k) + _row(v_type, heads * v)
        for heads, k, v in zip(shape.head_kv, shape.key, shape.value, strict=True)
    )
    # One mask per KV cache (iSWA models have two), f16 with flash attention; without it the
    # mask is f32 and one layer's f32 scores are live too (tiny: +9.9 MiB measured, +10 here).
    flash_off = (_value(args, _FLASH) or "auto").lower() in ("off", "0", "false")
    mask = ubatch * n_ctx * (4 if flash_off else 2) * (2 if shape.sliding else 1)
    scores = max(shape.heads) * ubatch * n_ctx * 4 if flash_off else 0
    logits = 2 * shape.n_vocab * 4 * n_seq  # in the graph, and the output buffer (4.00 MiB)
    widest = max(
        shape.n_embd, shape.n_ff, *(h * k for h, k in zip(shape.heads, shape.key, strict=True))
    )
    activations = ACTIVATION_WIDTHS * ubatch * 4 * widest
    return Estimate(
        weights=sum(part.stat().st_size for part in files),
        kv=kv,
        compute=mask + scores + logits + activations,
        overhead=BASE_OVERHEAD + OVERHEAD_PER_TOKEN * shape.n_vocab,
        n_ctx=n_ctx,
    )


class _Shape:
    """The hyperparameters an estimate needs, per layer where GGUF allows per-layer values."""

    def __init__(self, meta: dict[str, Any], path: Path) -> None:
        self.path = path
        arch = meta.get("general.architecture")
        if not isinstance(arch, str):
            raise ValueError(f"{path}: GGUF has no general.architecture")
        self.arch, self.meta = arch, meta
        n_layer = self._scalar("block_count")
        self.n_embd = self._scalar("embedding_length")
        self.trained_ctx = self._scalar("context_length")
        ff = self._layers("feed_forward_length", n_layer)
        self.n_ff = max(ff) if ff else 4 * self.n_embd
        # No head count: a recurrent model (Mamba, RWKV) with a small fixed state, no KV cache.
        self.heads = self._layers("attention.head_count", n_layer) or [0] * n_layer
        self.head_kv = self._layers("attention.head_count_kv", n_layer) or self.heads
        fallback = [self.n_embd // h if h else 0 for h in self.heads]
        self.key = self._layers("attention.key_length", n_layer) or fallback
        self.value = self._layers("attention.value_length", n_layer) or fallback
        self.sliding = bool(meta.get(f"{arch}.attention.sliding_window"))
        tokens = meta.get("tokenizer.ggml.tokens")
        vocab = meta.get(f"{arch}.vocab_size")
        self.n_vocab = (
            int(vocab) if vocab else tokens.length if isinstance(tokens, ArrayInfo) else 0
        )

    def _scalar(self, name: str) -> int:
        value = self.meta.get(f"{self.arch}.{name}")
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"{self.path}: GGUF has no usable {self.arch}.{name} ({value!r})")
        return value

    def _layers(self, name: str, n_layer: int) -> list[int] | None:
        value = self.meta.get(f"{self.arch}.{name}")
        if value is None:
            return None
        if isinstance(value, ArrayInfo):
            if value.values is None or len(value.values) != n_layer:
                raise ValueError(
                    f"{self.path}: {self.arch}.{name} has {value.length} values"
                    f" for {n_layer} layers"
                )
            return [int(v) for v in value.values]
        return [int(value)] * n_layer


def _value(args: Sequence[str], names: Sequence[str]) -> str | None:
    """The value of the last of ``names`` in ``args`` (``-c 2048`` or ``--ctx-size=2048``)."""
    found = None
    for index, arg in enumerate(args):
        if flag_name(arg) in names:
            if "=" in arg and arg.startswith("--"):
                found = arg.split("=", 1)[1]
            elif index + 1 < len(args):
                found = args[index + 1]
    return found


def _int(args: Sequence[str], names: Sequence[str], default: int) -> int:
    text = _value(args, names)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{names[-1]} {text!r} is not a whole number") from None


def _cache_type(name: str) -> tuple[int, int]:
    """(block size, bytes per block) of a KV cache type as llama-server names it (``q8_0``)."""
    import gguf  # here: it pulls numpy, which only this path needs

    try:
        kind = gguf.GGMLQuantizationType[name.upper()]
    except KeyError:
        raise ValueError(
            f"unknown KV cache type {name!r} (f16, bf16, f32, q8_0, q4_0...)"
        ) from None
    block, size = gguf.GGML_QUANT_SIZES[kind]
    return int(block), int(size)


def _row(kind: tuple[int, int], n: int) -> int:
    """Bytes of ``n`` elements of one cell's K or V row."""
    block, size = kind
    return math.ceil(n / block) * size
