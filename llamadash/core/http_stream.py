"""A blocking HTTP/1.1 request whose answer is read as it arrives: llama-server's token streams.

``llamadash run`` prints tokens as the server sends them and must be able to give up on an
answer at once (Ctrl-C): closing this client's socket is what tells llama-server to stop
generating and free the slot. It reuses the response framing of :mod:`llamadash.core.http1`
and, like it, needs no event loop and no httpx, so the chat starts in the time the CLI's
light path takes. Only loopback addresses are accepted: it talks to servers llamadash runs.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import json
import socket
from collections.abc import Iterator, Mapping
from typing import Any

from llamadash.core.http1 import (
    CONNECT_TIMEOUT,
    MAX_BODY,
    MAX_HEAD,
    Head,
    LoopbackHttpError,
    chunk_size,
    parse_head,
)

__all__ = [
    "LoopbackHttpError",
    "Stream",
    "get_json",
    "loopback_address",
    "open_stream",
    "post_json",
]

# A token may take this long to come (a big prompt is processed before the first one).
READ_TIMEOUT = 600.0


def loopback_address(url: str) -> tuple[str, int]:
    """``http://127.0.0.1:8080`` → ``("127.0.0.1", 8080)``.

    Raises:
        LoopbackHttpError: not an http URL with a port, or not a loopback address.
    """
    rest = url.removeprefix("http://").split("/", 1)[0]
    host, _, port = rest.rpartition(":")
    host = host.strip("[]")
    if host == "localhost":
        host = "127.0.0.1"
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not url.startswith("http://") or not port.isdigit() or not loopback:
        raise LoopbackHttpError(f"not a loopback server URL: {url!r}")
    return host, int(port)


class Stream:
    """An answer being received: its status and headers now, the body piece by piece."""

    def __init__(self, sock: socket.socket, reader: io.BufferedReader, head: Head) -> None:
        self._sock = sock
        self._reader = reader
        self.head = head

    @property
    def status(self) -> int:
        """The HTTP status code."""
        return self.head.status

    def pieces(self) -> Iterator[bytes]:
        """The body as it arrives (chunks decoded).

        Raises:
            LoopbackHttpError: the connection broke or timed out mid-answer.
        """
        try:
            if self.head.chunked:
                while size := chunk_size(self._reader.readline(MAX_HEAD)):
                    yield _exactly(self._reader, size)
                    _exactly(self._reader, 2)
                return
            left = self.head.length()
            while left is None or left > 0:
                piece = self._reader.read1(65536 if left is None else min(left, 65536))
                if not piece:
                    if left:
                        raise ValueError("the connection closed before the end of the body")
                    return
                left = None if left is None else left - len(piece)
                yield piece
        except TimeoutError:
            raise LoopbackHttpError("timed out waiting for the server") from None
        except (OSError, ValueError) as exc:
            raise LoopbackHttpError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None

    def read(self) -> bytes:
        """The whole body (at most MAX_BODY bytes)."""
        body = b""
        for piece in self.pieces():
            body += piece
            if len(body) > MAX_BODY:
                raise LoopbackHttpError(f"response too large: over {MAX_BODY} bytes")
        return body

    def events(self) -> Iterator[str]:
        """The ``data:`` payloads of a Server-Sent Events body, one per event line."""
        pending = b""
        for piece in self.pieces():
            pending += piece
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.startswith(b"data:"):
                    yield line[5:].strip().decode("utf-8", "replace")

    def close(self) -> None:
        """Hang up: the server sees the client leave (llama-server then stops generating)."""
        with contextlib.suppress(OSError):  # already closed by the server
            self._sock.shutdown(socket.SHUT_RDWR)
        self._reader.close()
        self._sock.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_stream(
    url: str,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    timeout: float = READ_TIMEOUT,
) -> Stream:
    """Send one request to the loopback server at ``url``; return once the head has arrived.

    Raises:
        LoopbackHttpError: not loopback, refused, reset, timed out or not HTTP.
    """
    host, port = loopback_address(url)
    authority = f"[{host}]" if ":" in host else host
    lines = [f"{method} {path} HTTP/1.1", f"Host: {authority}:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method not in ("GET", "HEAD"):
        lines.append(f"Content-Length: {len(body)}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    sock: socket.socket | None = None
    try:
        sock = socket.create_connection((host, port), CONNECT_TIMEOUT)
        sock.settimeout(timeout)
        sock.sendall(data)
        reader = sock.makefile("rb")
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = reader.readline(MAX_HEAD)
            if not line:
                raise ValueError("the connection closed before a complete response")
            head += line
        return Stream(sock, reader, parse_head(head))
    except BaseException as exc:
        if sock is not None:
            sock.close()
        if isinstance(exc, TimeoutError):
            raise LoopbackHttpError(f"timed out: {method} {path}") from None
        if isinstance(exc, OSError | ValueError):
            raise LoopbackHttpError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        raise


def post_json(url: str, path: str, payload: Any, timeout: float = READ_TIMEOUT) -> tuple[int, Any]:
    """POST ``payload`` as JSON and decode the JSON answer: (status, data).

    Raises:
        LoopbackHttpError: no answer, or one that is not JSON.
    """
    with open_stream(
        url, "POST", path, body=_json_body(payload), headers=_JSON, timeout=timeout
    ) as s:
        raw = s.read()
        try:
            return s.status, json.loads(raw)
        except ValueError:
            raise LoopbackHttpError(
                f"{path} answered {s.status} with no JSON: {raw[:200]!r}"
            ) from None


def get_json(url: str, path: str, timeout: float = 10.0) -> tuple[int, Any]:
    """GET ``path`` and decode the JSON answer: (status, data).

    Raises:
        LoopbackHttpError: no answer, or one that is not JSON.
    """
    with open_stream(
        url, "GET", path, headers={"Accept": "application/json"}, timeout=timeout
    ) as s:
        raw = s.read()
        try:
            return s.status, json.loads(raw)
        except ValueError:
            raise LoopbackHttpError(
                f"{path} answered {s.status} with no JSON: {raw[:200]!r}"
            ) from None


_JSON = {"Content-Type": "application/json", "Accept": "application/json"}


def _json_body(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def _exactly(reader: io.BufferedReader, count: int) -> bytes:
    data = reader.read(count)
    if len(data) < count:
        raise ValueError(f"the connection closed {count - len(data)} bytes before the end")
    return data
