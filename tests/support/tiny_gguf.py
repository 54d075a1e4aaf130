"""Write a tiny llama-architecture GGUF model with random weights for tests.

The model is about 0.5 MB, is written in a few milliseconds and is loaded and
served by a real ``llama-server``: 2 layers, 64-wide embeddings, 2 attention
heads, a 128-wide feed-forward block and a SentencePiece-style ("llama")
vocabulary in which any text tokenizes (every printable ASCII character is a
token, and the 256 byte tokens catch everything else).

With ``never_eos`` (the default) the model can never end a generation by
itself, so every request runs to exactly ``n_predict`` / ``max_tokens`` tokens:
the output rows of the control and byte tokens are zero, so their logits are
exactly 0, while one residual dimension carries a constant "anchor" that the
output matrix turns into a large positive bias for every normal token.

Usage::

    python -m tests.support.tiny_gguf OUT.gguf [--seed N] [--allow-eos]
"""

from __future__ import annotations

import argparse
import pathlib
from collections.abc import Sequence

import gguf
import numpy as np
import numpy.typing as npt

__all__ = ["CHAT_TEMPLATE", "main", "write_tiny_gguf"]

N_LAYER = 2
N_EMBD = 64
N_HEAD = 2
N_HEAD_KV = 2
HEAD_DIM = N_EMBD // N_HEAD
N_FF = 128
CONTEXT_LENGTH = 2048
RMS_EPS = 1e-5

UNK_ID = 0
BOS_ID = 1
EOS_ID = 2

#: ChatML, so that ``/v1/chat/completions`` works out of the box.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Residual dimension that holds a constant when ``never_eos`` is set.
_ANCHOR_DIM = 0
# Value of the anchor dimension in every token embedding.
_ANCHOR_VALUE = 8.0
# Weight of the anchor dimension in the output row of every normal token.
_ANCHOR_BIAS = 3.0
# Standard deviation of the other entries of the output matrix.
_OUTPUT_STD = 0.1

FloatArray = npt.NDArray[np.float32]


def _vocab() -> tuple[list[str], list[float], list[gguf.TokenType]]:
    """Build the SentencePiece-style vocabulary.

    Returns:
        The token texts, their scores and their types, index-aligned: ``<unk>``,
        ``<s>``, ``</s>``, the byte tokens ``<0x00>``…``<0xFF>``, then ``▁``
        (the SentencePiece space) and the printable ASCII characters ``!``…``~``
        as normal tokens. A plain space needs no token of its own, since the
        tokenizer rewrites spaces to ``▁``.
    """
    tokens = ["<unk>", "<s>", "</s>"]
    scores = [0.0, 0.0, 0.0]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    for byte in range(256):
        tokens.append(f"<0x{byte:02X}>")
        scores.append(0.0)
        types.append(gguf.TokenType.BYTE)
    normal = ["\u2581", *(chr(code) for code in range(0x21, 0x7F))]
    for rank, text in enumerate(normal):
        tokens.append(text)
        scores.append(-1.0 - rank)
        types.append(gguf.TokenType.NORMAL)
    return tokens, scores, types


def _normal(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> FloatArray:
    """Draw an F32 array of normally distributed values.

    Args:
        rng: The random generator to draw from.
        shape: The numpy shape (the reverse of the GGUF dimensions).
        std: The standard deviation.

    Returns:
        A C-contiguous float32 array.
    """
    return rng.normal(0.0, std, size=shape).astype(np.float32)


def _tensors(
    rng: np.random.Generator, types: Sequence[gguf.TokenType], *, never_eos: bool
) -> list[tuple[str, FloatArray]]:
    """Create the model's tensors in the order llama.cpp's converter writes them.

    Numpy shapes are the reverse of the GGUF dimensions llama.cpp expects; for
    example ``token_embd.weight`` is ``{n_embd, n_vocab}`` in GGUF and
    ``(n_vocab, n_embd)`` here.

    Args:
        rng: The random generator to draw the weights from.
        types: The type of every token of the vocabulary.
        never_eos: Whether to make end-of-sequence (and any other control or
            byte token) impossible to generate; see the module docstring.

    Returns:
        The ``(name, array)`` pairs.
    """
    n_vocab = len(types)
    embd_std = 1.0
    in_std = 1.0 / np.sqrt(N_EMBD)
    ff_std = 1.0 / np.sqrt(N_FF)

    token_embd = _normal(rng, (n_vocab, N_EMBD), embd_std)
    ones = np.ones(N_EMBD, dtype=np.float32)
    block_norm = ones.copy()
    output_norm = ones.copy()
    output = _normal(rng, (n_vocab, N_EMBD), _OUTPUT_STD)
    if never_eos:
        # The anchor dimension is constant in every embedding, no block writes
        # to it (its rows of attn_output and ffn_down are zero below) and no
        # block reads it, so after the final RMS norm it is a large positive
        # value for any input: the anchor column of the output matrix is then a
        # per-token bias. Normal tokens get a large one; control and byte tokens
        # get an all-zero row, hence a logit of exactly 0, far below the others.
        token_embd[:, _ANCHOR_DIM] = _ANCHOR_VALUE
        block_norm[_ANCHOR_DIM] = 0.0
        normal = np.array([t == gguf.TokenType.NORMAL for t in types])
        output[normal, _ANCHOR_DIM] = _ANCHOR_BIAS
        output[~normal, :] = 0.0

    tensors: list[tuple[str, FloatArray]] = [("token_embd.weight", token_embd)]
    for layer in range(N_LAYER):
        attn_output = _normal(rng, (N_EMBD, N_HEAD * HEAD_DIM), in_std)
        ffn_down = _normal(rng, (N_EMBD, N_FF), ff_std)
        if never_eos:
            attn_output[_ANCHOR_DIM, :] = 0.0
            ffn_down[_ANCHOR_DIM, :] = 0.0
        prefix = f"blk.{layer}."
        tensors += [
            (prefix + "attn_norm.weight", block_norm.copy()),
            (prefix + "attn_q.weight", _normal(rng, (N_HEAD * HEAD_DIM, N_EMBD), in_std)),
            (prefix + "attn_k.weight", _normal(rng, (N_HEAD_KV * HEAD_DIM, N_EMBD), in_std)),
            (prefix + "attn_v.weight", _normal(rng, (N_HEAD_KV * HEAD_DIM, N_EMBD), in_std)),
            (prefix + "attn_output.weight", attn_output),
            (prefix + "ffn_norm.weight", block_norm.copy()),
            (prefix + "ffn_gate.weight", _normal(rng, (N_FF, N_EMBD), in_std)),
            (prefix + "ffn_up.weight", _normal(rng, (N_FF, N_EMBD), in_std)),
            (prefix + "ffn_down.weight", ffn_down),
        ]
    tensors += [("output_norm.weight", output_norm), ("output.weight", output)]
    return tensors


def write_tiny_gguf(
    path: pathlib.Path,
    *,
    seed: int = 0,
    never_eos: bool = True,
    chat_template: str | None = CHAT_TEMPLATE,
) -> pathlib.Path:
    """Write a tiny random llama-architecture GGUF model that llama-server serves.

    The same ``seed`` and ``never_eos`` always give the same bytes.

    Args:
        path: Where to write the model; an existing file is overwritten.
        seed: Seed of the ``numpy.random.default_rng`` that draws the weights.
        never_eos: Make the model unable to produce end-of-sequence, so that
            every request generates exactly the number of tokens it asks for.
        chat_template: The template stored; None stores none (a base model).

    Returns:
        ``path``, for convenience.
    """
    rng = np.random.default_rng(seed)
    tokens, scores, types = _vocab()

    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name(f"llamadash-tiny-seed{seed}")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(CONTEXT_LENGTH)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_rope_dimension_count(HEAD_DIM)
    writer.add_layer_norm_rms_eps(RMS_EPS)

    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(UNK_ID)
    writer.add_bos_token_id(BOS_ID)
    writer.add_eos_token_id(EOS_ID)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    if chat_template is not None:
        writer.add_chat_template(chat_template)

    for name, array in _tensors(rng, types, never_eos=never_eos):
        writer.add_tensor(name, array)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: write the tiny model to the given path.

    Args:
        argv: The arguments, without the program name; ``sys.argv[1:]`` if None.

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(description="Write a tiny random llama GGUF model.")
    parser.add_argument("out", type=pathlib.Path, help="the .gguf file to write")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--allow-eos",
        action="store_true",
        help="let the model produce end-of-sequence (by default it never does)",
    )
    args = parser.parse_args(argv)
    out: pathlib.Path = args.out
    write_tiny_gguf(out, seed=args.seed, never_eos=not args.allow_eos)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
