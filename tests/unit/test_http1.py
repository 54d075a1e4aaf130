"""The blocking one-shot client the CLI forwards with, against real loopback servers."""

from __future__ import annotations

import asyncio

import pytest

from llamadash.core.http1 import LoopbackHttpError, parse_head, request
from tests.support.http_server import http_server


def echo(path: str) -> tuple[int, str]:
    return (404, "no") if path == "/missing" else (200, f"you asked for {path}")


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
async def test_request_reads_every_framing(framing: str) -> None:
    async with http_server(echo, framing=framing) as (port, served):
        replies = [
            await asyncio.to_thread(request, "127.0.0.1", port, "GET", path, timeout=5)
            for path in ("/a", "/missing", "/" + "x" * 3000)
        ]
    assert [(r.status, r.text) for r in replies[:2]] == [(200, "you asked for /a"), (404, "no")]
    assert replies[2].text == "you asked for /" + "x" * 3000
    assert served.paths == ["/a", "/missing", "/" + "x" * 3000]


async def test_a_slow_answer_times_out() -> None:
    async with http_server(echo, delay=1.0) as (port, _served):
        with pytest.raises(LoopbackHttpError, match="timed out"):
            await asyncio.to_thread(request, "127.0.0.1", port, "GET", "/", timeout=0.1)


def test_nothing_listening_is_an_error(free_port: int) -> None:
    with pytest.raises(LoopbackHttpError, match="ConnectionRefused"):
        request("127.0.0.1", free_port, "GET", "/status", timeout=1)


def test_parse_head_rejects_what_is_not_http() -> None:
    head = parse_head(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 3\r\nX-A:  b \r\n\r\n")
    assert (head.version, head.status, head.headers["x-a"], head.length()) == (
        "HTTP/1.1",
        502,
        "b",
        3,
    )
    with pytest.raises(ValueError, match="not an HTTP response"):
        parse_head(b"SSH-2.0-OpenSSH\r\n\r\n")
