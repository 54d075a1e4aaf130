"""Forward one request to a llama-server on loopback and stream its answer back, piece by piece.

httpx would do, at several times the CPU per request; the proxy's budget is a millisecond of
added latency with 64 clients (bench/bench_proxy.py). This speaks only what llama-server
answers: a status line, headers, and a body framed by Content-Length, chunks, or the close.
Idle keep-alive connections are kept per server and dropped before it is stopped
(``Instance.on_stop``), so a stop never waits on a connection of ours.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from llamadash.core.http1 import MAX_HEAD, Head, chunk_size, parse_head

READ_SIZE = 64 * 1024
MAX_IDLE = 64
CONNECT_TIMEOUT = 5.0
# Hop-by-hop (RFC 9110 §7.6.1) and framing headers: the proxy frames its own answer.
HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailer",
     "upgrade", "proxy-connection", "server", "date", "access-control-allow-origin"}
)  # fmt: skip
# What of the client's request llama-server needs; never its Authorization (our token).
PASSED_REQUEST_HEADERS = ("content-type", "accept", "user-agent")

_Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class UpstreamError(Exception):
    """The server could not be reached, or ended its answer early (it crashed, or was stopped)."""


@dataclass
class Answer:
    """The head of the server's answer; iterate :meth:`body` for the rest."""

    head: Head
    _reader: asyncio.StreamReader
    _writer: asyncio.StreamWriter
    _pool: UpstreamPool
    _key: tuple[str, int]

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """Headers to pass on to the client (hop-by-hop and framing ones removed)."""
        return [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in self.head.headers.items()
            if name not in HOP_HEADERS
        ]

    async def body(self) -> AsyncIterator[bytes]:
        """The body as it arrives (a chunk of chunked encoding at a time).

        Raises:
            UpstreamError: the connection ended before the body did.
        """
        reader = self._reader
        try:
            if self.head.chunked:
                async for piece in _dechunked(reader):
                    yield piece
            elif (length := self.head.length()) is not None:
                while length > 0:
                    piece = await reader.read(min(length, READ_SIZE))
                    if not piece:
                        raise UpstreamError(f"the server closed {length} bytes before the end")
                    length -= len(piece)
                    yield piece
            else:
                while piece := await reader.read(READ_SIZE):
                    yield piece
                self.close()
                return
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as exc:
            self.close()
            raise UpstreamError(f"the server's answer broke off: {exc}") from None
        except ValueError as exc:  # a bad chunk size line
            self.close()
            raise UpstreamError(f"the server's answer is malformed: {exc}") from None
        self._give_back()

    def _give_back(self) -> None:
        closing = self.head.headers.get("connection", "").lower() == "close"
        if not closing and not self._writer.is_closing():
            self._pool.give_back(self._key, (self._reader, self._writer))
        else:
            self.close()

    def close(self) -> None:
        """Drop the connection (the client went away: the server then stops generating)."""
        with contextlib.suppress(Exception):
            self._writer.close()


async def _dechunked(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """The data of a chunked body, as much as has arrived per piece (chunks joined).

    A token is one chunk; when they arrive faster than the client takes them, one read
    holds several, and passing them on together costs one send instead of one each.

    Raises:
        ValueError: a malformed chunk size line.
        asyncio.IncompleteReadError: the connection ended before the last chunk.
    """
    buffer = bytearray()
    while True:
        out: list[bytes] = []
        while True:
            line_end = buffer.find(b"\r\n")
            if line_end < 0:
                if len(buffer) > MAX_HEAD:
                    raise ValueError("chunk size line too long")
                break
            size = chunk_size(bytes(buffer[:line_end]))
            if size == 0:  # the last chunk, then trailers up to an empty line
                rest = bytes(buffer[line_end + 2 :])
                if out:
                    yield b"".join(out)
                while not (rest.startswith(b"\r\n") or b"\r\n\r\n" in rest):
                    more = await reader.read(READ_SIZE)
                    if not more:
                        raise asyncio.IncompleteReadError(rest, None)
                    rest += more
                return
            end = line_end + 2 + size
            if len(buffer) < end + 2:
                break
            out.append(bytes(buffer[line_end + 2 : end]))
            del buffer[: end + 2]
        if out:
            yield b"".join(out)
        more = await reader.read(READ_SIZE)
        if not more:
            raise asyncio.IncompleteReadError(bytes(buffer), None)
        buffer += more


class UpstreamPool:
    """Keep-alive connections to the servers, reused request after request."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[_Connection]] = {}

    async def send(
        self, host: str, port: int, method: str, path: str, *, headers: dict[str, str], body: bytes
    ) -> Answer:
        """Send a request and read the head of the answer.

        Raises:
            UpstreamError: the server is not listening, or answered nothing usable.
        """
        key = (host, port)
        authority = f"[{host}]" if ":" in host else host
        lines = [f"{method} {path} HTTP/1.1", f"Host: {authority}:{port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        for attempt in (0, 1):  # a reused connection may have been closed by the server
            reused, (reader, writer) = await self._connection(key)
            try:
                writer.write(data)
                raw = await reader.readuntil(b"\r\n\r\n")
                if len(raw) > MAX_HEAD:
                    raise ValueError("response head too large")
                head = parse_head(raw)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                writer.close()
                if reused and attempt == 0:
                    continue
                raise UpstreamError(f"no answer from {authority}:{port}: {exc}") from None
            except ValueError as exc:
                writer.close()
                raise UpstreamError(f"not an HTTP answer from {authority}:{port}: {exc}") from None
            return Answer(head, reader, writer, self, key)
        raise AssertionError("unreachable")

    async def _connection(self, key: tuple[str, int]) -> tuple[bool, _Connection]:
        idle = self._idle.get(key)
        while idle:
            reader, writer = idle.pop()
            if not reader.at_eof() and not writer.is_closing():
                return True, (reader, writer)
            writer.close()
        try:
            opened = await asyncio.wait_for(
                asyncio.open_connection(*key, limit=MAX_HEAD), CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError) as exc:
            raise UpstreamError(f"cannot reach the server at {key[0]}:{key[1]}: {exc}") from None
        return False, opened

    def give_back(self, key: tuple[str, int], connection: _Connection) -> None:
        """Keep a connection whose answer was read whole for the next request."""
        idle = self._idle.setdefault(key, [])
        if len(idle) < MAX_IDLE:
            idle.append(connection)
        else:
            connection[1].close()

    def drop(self, host: str, port: int) -> None:
        """Close the idle connections to one server (before it is stopped)."""
        for _, writer in self._idle.pop((host, port), []):
            writer.close()

    def close(self) -> None:
        """Close every idle connection."""
        for key in list(self._idle):
            self.drop(*key)
