"""LoopbackHttp against real loopback servers: framing, keep-alive, stale connections, errors."""

from __future__ import annotations

import asyncio
import time

import pytest

from llamadash.core.loopback import MAX_BODY, LoopbackHttp, LoopbackHttpError
from tests.support.http_server import http_server


def echo(path: str) -> tuple[int, str]:
    return (404, "no") if path == "/missing" else (200, f"you asked for {path}")


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
async def test_get_reads_every_framing(framing: str) -> None:
    async with http_server(echo, framing=framing) as (port, served):
        client = LoopbackHttp("127.0.0.1", port)
        replies = [await client.get(p) for p in ("/a", "/missing", "/" + "x" * 3000)]
        client.close()
    assert [(r.status, r.text) for r in replies[:2]] == [(200, "you asked for /a"), (404, "no")]
    assert replies[2].text == "you asked for /" + "x" * 3000
    assert served.paths == ["/a", "/missing", "/" + "x" * 3000]
    # Kept alive unless the server frames by closing.
    assert served.connections == (3 if framing == "close" else 1)


async def test_concurrent_gets_use_separate_connections_then_reuse_them() -> None:
    async with http_server(echo, delay=0.05) as (port, served):
        client = LoopbackHttp("127.0.0.1", port)
        first = await asyncio.gather(*(client.get(f"/{i}") for i in range(3)))
        second = await asyncio.gather(*(client.get(f"/{i}") for i in range(3)))
        client.close()
    assert (
        [r.text for r in first]
        == [r.text for r in second]
        == [f"you asked for /{i}" for i in range(3)]
    )
    assert served.connections == 3


async def test_a_connection_the_server_closed_is_replaced_transparently() -> None:
    async with http_server(echo, framing="drop") as (port, served):
        client = LoopbackHttp("127.0.0.1", port)
        assert (await client.get("/one")).status == 200
        await asyncio.sleep(0.05)  # the server has closed the kept-alive connection by now
        assert (await client.get("/two")).text == "you asked for /two"
        client.close()
    assert served.paths == ["/one", "/two"]
    assert served.connections == 2


async def test_timeout_is_an_error_and_the_late_answer_is_never_read_as_the_next() -> None:
    async with http_server(echo, delay=0.3) as (port, _served):
        client = LoopbackHttp("127.0.0.1", port, timeout=0.1)
        began = time.monotonic()
        with pytest.raises(LoopbackHttpError, match="timed out"):
            await client.get("/slow")
        assert time.monotonic() - began < 0.25
        assert client._idle == []  # the connection with the late answer was dropped
        reply = await client.get("/next", timeout=2)
        client.close()
    assert reply.text == "you asked for /next"


async def test_refused_and_garbage_are_errors(free_port: int) -> None:
    with pytest.raises(LoopbackHttpError, match=r"ConnectionRefused|Connect call failed"):
        await LoopbackHttp("127.0.0.1", free_port).get("/health")

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(garbage, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(LoopbackHttpError, match="not an HTTP response"):
            await LoopbackHttp("127.0.0.1", port).get("/")
    finally:
        server.close()


async def test_an_oversized_body_is_refused() -> None:
    async def huge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(huge, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(LoopbackHttpError, match="too large"):
            await LoopbackHttp("127.0.0.1", port).get("/")
    finally:
        server.close()
