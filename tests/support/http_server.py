"""A real loopback HTTP/1.1 server for recorded payloads (tests of HTTP clients).

It answers GETs from a handler, keeping connections alive, and can frame bodies with
Content-Length (default), chunked encoding, or by closing the connection, as servers do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

Answer = tuple[int, str | bytes]
Handler = Callable[[str], Answer]


@dataclass
class ServedLog:
    """What the server saw: request paths in order, and how many connections were opened."""

    paths: list[str] = field(default_factory=list)
    connections: int = 0


@asynccontextmanager
async def http_server(
    handler: Handler, framing: str = "length", delay: float = 0.0
) -> AsyncIterator[tuple[int, ServedLog]]:
    """Serve ``handler`` on 127.0.0.1 (a free port); yield (port, log).

    Args:
        handler: path -> (status, body).
        framing: "length", "chunked", "close" (Connection: close), or "drop" (Content-Length,
            then the connection closes unannounced, as when a keep-alive timer fires).
        delay: seconds to wait before each answer (timeouts).
    """
    log = ServedLog()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        log.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                log.paths.append(path)
                status, body = handler(path)
                data = body.encode() if isinstance(body, str) else body
                if delay:
                    await asyncio.sleep(delay)
                writer.write(_frame(status, data, framing))
                await writer.drain()
                if framing in ("close", "drop"):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, log
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)


def _frame(status: int, data: bytes, framing: str) -> bytes:
    head = f"HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\n"
    if framing == "chunked":
        chunks = b"".join(
            f"{len(data[i : i + 7]):x}\r\n".encode() + data[i : i + 7] + b"\r\n"
            for i in range(0, len(data), 7)
        )
        return f"{head}Transfer-Encoding: chunked\r\n\r\n".encode() + chunks + b"0\r\n\r\n"
    if framing == "close":
        return f"{head}Connection: close\r\n\r\n".encode() + data
    return f"{head}Content-Length: {len(data)}\r\n\r\n".encode() + data
