"""HTTP/1.1 response framing shared by the loopback clients, and a blocking one-shot request.

:mod:`llamadash.core.loopback` polls with asyncio; the CLI forwards one request to the owning
llamadash and exits, so it uses :func:`request` here, which needs no event loop: importing
asyncio alone would cost the command more than the request does (bench/bench_cli.py).
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass

TYPE_CHECKING = False  # as typing's, without importing typing: see commands/owner.py
if TYPE_CHECKING:
    from typing import BinaryIO

__all__ = ["MAX_BODY", "MAX_HEAD", "Head", "LoopbackHttpError", "Reply", "parse_head", "request"]

MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
CONNECT_TIMEOUT = 5.0


class LoopbackHttpError(Exception):
    """No usable answer: refused, reset, timed out or not HTTP."""


@dataclass(frozen=True)
class Reply:
    """A response: status code and body bytes."""

    status: int
    body: bytes

    @property
    def text(self) -> str:
        """The body as UTF-8 (bad bytes replaced)."""
        return self.body.decode("utf-8", "replace")


@dataclass(frozen=True)
class Head:
    """A parsed status line and headers (names lower-cased)."""

    version: str
    status: int
    headers: dict[str, str]

    @property
    def chunked(self) -> bool:
        """The body comes in chunks."""
        return "chunked" in self.headers.get("transfer-encoding", "").lower()

    def length(self) -> int | None:
        """The Content-Length, if given.

        Raises:
            ValueError: malformed or over MAX_BODY.
        """
        if "content-length" not in self.headers:
            return None
        length = int(self.headers["content-length"])
        if not 0 <= length <= MAX_BODY:
            raise ValueError(f"response too large: {length} bytes")
        return length


def parse_head(head: bytes) -> Head:
    """Parse the bytes up to (and maybe including) the blank line ending the head.

    Raises:
        ValueError: not an HTTP/1.x response.
    """
    status_line, *header_lines = head.rstrip(b"\r\n").decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP response: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Head(parts[0], int(parts[1]), headers)


def chunk_size(line: bytes) -> int:
    """The size on a chunk-size line (extensions after ``;`` ignored)."""
    return int(line.split(b";", 1)[0], 16)


def request(
    host: str,
    port: int,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Reply:
    """Send one request on a new connection and read the whole answer (blocking).

    Args:
        host: An address (IPv6 without brackets) or name; the callers check it is local.
        port: TCP port.
        method: ``GET``, ``POST``…
        path: The request target, e.g. ``/status``.
        body: The request body (sent with its Content-Length).
        headers: Extra request headers.
        timeout: Seconds the answer may take; None waits as long as the server does
            (``POST /switch`` answers when the model is ready). Connecting has its own 5 s.

    Raises:
        LoopbackHttpError: refused, reset, timed out or not HTTP.
    """
    authority = f"[{host}]" if ":" in host else host
    lines = [f"{method} {path} HTTP/1.1", f"Host: {authority}:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method not in ("GET", "HEAD"):
        lines.append(f"Content-Length: {len(body)}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    try:
        with socket.create_connection((host, port), CONNECT_TIMEOUT) as sock:
            sock.settimeout(timeout)
            sock.sendall(data)
            with sock.makefile("rb") as stream:
                return _read_reply(stream)
    except TimeoutError:
        raise LoopbackHttpError(f"timed out: {method} {path}") from None
    except (OSError, ValueError) as exc:
        raise LoopbackHttpError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None


def _read_reply(stream: BinaryIO) -> Reply:
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = stream.readline(MAX_HEAD)
        if not line:
            raise ValueError("the connection closed before a complete response")
        head += line
        if len(head) > MAX_HEAD:
            raise ValueError("response head too large")
    parsed = parse_head(head)
    if parsed.chunked:
        body = _read_chunked(stream)
    elif (length := parsed.length()) is not None:
        body = _read_exactly(stream, length)
    else:
        body = stream.read(MAX_BODY)
    return Reply(parsed.status, body)


def _read_chunked(stream: BinaryIO) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size = chunk_size(stream.readline(MAX_HEAD))
        if size == 0:
            while stream.readline(MAX_HEAD) not in (b"\r\n", b""):  # trailers
                pass
            return b"".join(chunks)
        total += size
        if total > MAX_BODY:
            raise ValueError(f"response too large: over {MAX_BODY} bytes")
        chunks.append(_read_exactly(stream, size))
        _read_exactly(stream, 2)


def _read_exactly(stream: BinaryIO, count: int) -> bytes:
    data = stream.read(count)
    if len(data) < count:
        raise ValueError(f"the connection closed {count - len(data)} bytes before the end")
    return data
