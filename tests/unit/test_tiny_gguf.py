"""The tiny test model writer is deterministic and writes a readable llama GGUF."""

from __future__ import annotations

import pathlib

import gguf
import numpy as np
import pytest

from tests.support.tiny_gguf import N_EMBD, N_LAYER, main, write_tiny_gguf

# <unk> <s> </s>, 256 byte tokens, "▁" and the 94 printable ASCII characters "!"…"~".
EXPECTED_TOKENS = 3 + 256 + 1 + 94


def _field_str(reader: gguf.GGUFReader, key: str) -> str:
    field = reader.get_field(key)
    assert field is not None, key
    value = field.contents()
    assert isinstance(value, str)
    return value


def _field_int(reader: gguf.GGUFReader, key: str) -> int:
    field = reader.get_field(key)
    assert field is not None, key
    value = field.contents()
    assert isinstance(value, int)
    return value


def test_same_seed_gives_identical_bytes(tmp_path: pathlib.Path) -> None:
    a = write_tiny_gguf(tmp_path / "a.gguf", seed=7)
    b = write_tiny_gguf(tmp_path / "b.gguf", seed=7)
    assert a.read_bytes() == b.read_bytes()


def test_different_seed_gives_different_bytes(tmp_path: pathlib.Path) -> None:
    a = write_tiny_gguf(tmp_path / "a.gguf", seed=0)
    b = write_tiny_gguf(tmp_path / "b.gguf", seed=1)
    assert a.read_bytes() != b.read_bytes()


def test_never_eos_changes_the_weights(tmp_path: pathlib.Path) -> None:
    a = write_tiny_gguf(tmp_path / "a.gguf", never_eos=True)
    b = write_tiny_gguf(tmp_path / "b.gguf", never_eos=False)
    assert a.read_bytes() != b.read_bytes()


def test_returns_the_path_and_is_small(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "tiny.gguf"
    assert write_tiny_gguf(out) == out
    assert 100_000 < out.stat().st_size < 1_000_000


def test_reader_sees_a_llama_model(tmp_path: pathlib.Path) -> None:
    reader = gguf.GGUFReader(write_tiny_gguf(tmp_path / "tiny.gguf"))

    assert _field_str(reader, "general.architecture") == "llama"
    assert _field_int(reader, "llama.block_count") == N_LAYER
    assert _field_int(reader, "llama.embedding_length") == N_EMBD
    assert _field_str(reader, "tokenizer.ggml.model") == "llama"
    tokens = reader.get_field("tokenizer.ggml.tokens")
    assert tokens is not None
    assert len(tokens.data) == EXPECTED_TOKENS
    assert _field_int(reader, "tokenizer.ggml.bos_token_id") == 1
    assert _field_int(reader, "tokenizer.ggml.eos_token_id") == 2
    assert "<|im_start|>" in _field_str(reader, "tokenizer.chat_template")


def test_tensor_shapes_match_llama_cpp(tmp_path: pathlib.Path) -> None:
    reader = gguf.GGUFReader(write_tiny_gguf(tmp_path / "tiny.gguf"))
    # GGUF dimensions, innermost first, as llama.cpp's loader checks them.
    shapes = {t.name: [int(d) for d in t.shape] for t in reader.tensors}

    assert shapes["token_embd.weight"] == [N_EMBD, EXPECTED_TOKENS]
    assert shapes["output.weight"] == [N_EMBD, EXPECTED_TOKENS]
    assert shapes["output_norm.weight"] == [N_EMBD]
    assert shapes["blk.1.attn_q.weight"] == [N_EMBD, N_EMBD]
    assert shapes["blk.1.ffn_gate.weight"] == [N_EMBD, 128]
    assert shapes["blk.1.ffn_down.weight"] == [128, N_EMBD]
    assert len(shapes) == 3 + 9 * N_LAYER
    assert all(t.tensor_type == gguf.GGMLQuantizationType.F32 for t in reader.tensors)


def test_never_eos_zeroes_control_and_byte_rows(tmp_path: pathlib.Path) -> None:
    reader = gguf.GGUFReader(write_tiny_gguf(tmp_path / "tiny.gguf"))
    output = next(t for t in reader.tensors if t.name == "output.weight")
    rows = np.asarray(output.data).reshape(EXPECTED_TOKENS, N_EMBD)

    assert not rows[: 3 + 256].any()
    assert rows[3 + 256 :].any(axis=1).all()


def test_cli_writes_the_model(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli.gguf"
    assert main([str(out), "--seed", "3"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert out.read_bytes() == write_tiny_gguf(tmp_path / "api.gguf", seed=3).read_bytes()
