"""A unix-socket proxy in front of the test Docker engine, to make the engine "die" on demand.

Tests point DOCKER_HOST at the proxy; ``close()`` then refuses every new connection and cuts
the open ones, which is what a client sees when dockerd stops (the real engine keeps running
for the other tests).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path


class UnixSocketProxy:
    """Forwards connections on ``path`` to the unix socket ``target``."""

    def __init__(self, path: Path, target: str) -> None:
        self.path = path
        self.target = target
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(path))
        self._listener.listen(16)
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="test-proxy").start()

    @property
    def url(self) -> str:
        """The DOCKER_HOST value for clients of the proxy."""
        return f"unix://{self.path}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.target)
            with self._lock:
                if self._closed:
                    client.close()
                    upstream.close()
                    return
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        """Stop answering: the socket file stays, connecting to it is refused."""
        with self._lock:
            self._closed = True
            sockets, self._open = self._open, []
        self._listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
