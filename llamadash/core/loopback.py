"""A minimal HTTP/1.1 GET client with keep-alive, for polling llama-server on loopback.

The dashboard asks llama-server for /health, /slots and /metrics every second and the switcher
polls /health every 50 ms while a model loads. httpx spent ~1 ms of CPU per such request, most
of the dashboard's idle budget (bench/bench_http_poll.py measures both in one run); this client
does the same GET in a tenth of that. It speaks only what llama-server answers: a status line,
headers, and a body framed by Content-Length, chunked encoding or the connection closing.
"""

from __future__ import annotations

import asyncio
import contextlib

from llamadash.core.http1 import (
    MAX_BODY,
    MAX_HEAD,
    LoopbackHttpError,
    Reply,
    chunk_size,
    parse_head,
)

__all__ = ["MAX_BODY", "LoopbackHttp", "LoopbackHttpError", "Reply"]

MAX_IDLE = 4

_Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class LoopbackHttp:
    """GET requests to one ``host:port``, reusing up to four idle connections.

    Args:
        host: A loopback address (the callers check that).
        port: TCP port.
        timeout: Seconds for one whole request (connect, send, read).
    """

    def __init__(self, host: str, port: int, timeout: float = 1.0) -> None:
        self.host = host.strip("[]")
        self.port = port
        self.timeout = timeout
        self._idle: list[_Connection] = []
        self.connections_opened = 0  # how often keep-alive failed to spare a connect
        self._head = f"Host: {host}:{port}\r\nAccept: */*\r\nUser-Agent: llamadash\r\n\r\n"

    async def get(self, path: str, timeout: float | None = None) -> Reply:
        """GET ``path``.

        Raises:
            LoopbackHttpError: no complete response within the timeout.
        """
        try:
            async with asyncio.timeout(self.timeout if timeout is None else timeout):
                return await self._get(path)
        except TimeoutError:
            raise LoopbackHttpError(f"timed out: GET {path}") from None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
            raise LoopbackHttpError(f"{type(e).__name__}: {e}".rstrip(": ")) from None

    async def _get(self, path: str) -> Reply:
        request = f"GET {path} HTTP/1.1\r\n{self._head}".encode()
        while self._idle:
            # A kept-alive connection the server closed in the meantime fails on first read;
            # that is not the server's answer, so try the next one (or a new connection).
            reader, writer = self._idle.pop()
            try:
                return await self._exchange(reader, writer, request)
            except (OSError, asyncio.IncompleteReadError) as exc:
                _close(writer)
                if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    raise
            except BaseException:  # timed out or cancelled mid-answer: unusable
                _close(writer)
                raise
        self.connections_opened += 1
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=MAX_HEAD)
        try:
            return await self._exchange(reader, writer, request)
        except BaseException:
            _close(writer)
            raise

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
    ) -> Reply:
        writer.write(request)
        await writer.drain()
        head = parse_head(await reader.readuntil(b"\r\n\r\n"))
        keep = head.headers.get("connection", "").lower() != "close" and head.version == "HTTP/1.1"
        if head.chunked:
            body = await _read_chunked(reader)
        elif (length := head.length()) is not None:
            body = await reader.readexactly(length)
        else:
            body, keep = await reader.read(MAX_BODY), False
        if keep and len(self._idle) < MAX_IDLE:
            self._idle.append((reader, writer))
        else:
            _close(writer)
        return Reply(head.status, body)

    def close(self) -> None:
        """Close the idle connections."""
        idle, self._idle = self._idle, []
        for _reader, writer in idle:
            _close(writer)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size = chunk_size(await reader.readuntil(b"\r\n"))
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                pass
            return b"".join(chunks)
        total += size
        if total > MAX_BODY:
            raise ValueError(f"response too large: over {MAX_BODY} bytes")
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()
