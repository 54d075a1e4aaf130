"""The proxy's chunked-body reader: any split of the bytes gives the same data, in order."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llamadash.api.upstream import _dechunked


def chunked(pieces: list[bytes], trailers: bytes = b"") -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p)
    return body + b"0\r\n" + trailers + b"\r\n"


async def read_all(raw: bytes, cuts: list[int]) -> list[bytes]:
    reader = asyncio.StreamReader()
    last = 0
    for cut in sorted({min(c, len(raw)) for c in cuts}):
        reader.feed_data(raw[last:cut])
        last = cut
    reader.feed_data(raw[last:])
    reader.feed_eof()
    return [piece async for piece in _dechunked(reader)]


@given(
    pieces=st.lists(st.binary(min_size=1, max_size=40), max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=10),
    trailers=st.sampled_from([b"", b"X-Trailer: 1\r\n"]),
)
def test_any_split_gives_the_same_data(
    pieces: list[bytes], cuts: list[int], trailers: bytes
) -> None:
    got = asyncio.run(read_all(chunked(pieces, trailers), cuts))
    assert b"".join(got) == b"".join(pieces)
    assert all(got)  # no empty pieces are passed on


def test_chunks_that_arrived_together_are_passed_on_together() -> None:
    got = asyncio.run(read_all(chunked([b"data: a\n\n", b"data: b\n\n"]), []))
    assert got == [b"data: a\n\ndata: b\n\n"]


def test_a_body_cut_short_or_malformed_is_an_error() -> None:
    raw = chunked([b"hello", b"world"])
    with pytest.raises(asyncio.IncompleteReadError):
        asyncio.run(read_all(raw[:12], []))
    with pytest.raises(ValueError):
        asyncio.run(read_all(b"zz\r\nhello\r\n0\r\n\r\n", []))
