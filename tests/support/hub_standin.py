"""A STAND-IN for the Hugging Face Hub where the local mirror (olah) has gaps.

olah serves real repos to the real client, but has no search, no Range, and answers 401 for a
missing file; a gated repo cannot be set up in it. This loopback server answers those few
requests in the shapes the Hub documents (hub-docs "api", the client's ``hf_raise_for_status``):

- ``GET /api/models?search=…`` → ``[{"id", "downloads", "likes", "lastModified", "siblings"}]``
- ``GET /api/models/{repo}/tree/{rev}`` → ``[{"type": "file", "path", "size", "oid", "lfs"}]``;
  an unknown repo → 401 with ``X-Error-Code: RepoNotFound`` (the Hub hides private repos)
- ``GET|HEAD /{repo}/resolve/{rev}/{path}`` → the bytes; ``Range: bytes=N-`` → 206 with
  ``Content-Range``; a gated repo → 401 (no token) or 403 (token without access) with
  ``X-Error-Code: GatedRepo``; a missing file → 404 with ``X-Error-Code: EntryNotFound``.

Every test that uses it says so: what it answers is only what the Hub documents.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

CHUNK = 64 * 1024
REVISION = "5e1c0a7d" * 5  # the one commit every stand-in repo is at (X-Repo-Commit)


@dataclass
class StandinRepo:
    """One repo: file name → local file, and whether its licence must be accepted."""

    files: dict[str, Path]
    gated: bool = False
    downloads: int = 0
    likes: int = 0
    modified: str = "2026-11-02T10:00:00.000Z"
    readme: str = ""


@dataclass
class StandinHub:
    """The repos it serves, who may read gated ones, and what it was asked."""

    repos: dict[str, StandinRepo]
    allowed_token: str = "hf_granted"
    rate: float = 0.0  # bytes/s per download (0: as fast as it goes), to interrupt one midway
    drop_after: int = 0  # close a download's connection after this many bytes (0: never)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, range
    url: str = ""
    _sha: dict[Path, str] = field(default_factory=dict)

    def sha256(self, path: Path) -> str:
        if path not in self._sha:
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                while block := handle.read(1 << 20):
                    digest.update(block)
            self._sha[path] = digest.hexdigest()
        return self._sha[path]


@contextmanager
def standin_hub(hub: StandinHub) -> Iterator[StandinHub]:
    """Serve ``hub`` on 127.0.0.1 (a free port) in a thread; ``hub.url`` is its endpoint."""
    server = _QuietServer(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up (a pull stopped with Ctrl-C) is normal here, not a traceback."""

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def _handler(hub: StandinHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet: the test reads hub.requests
            pass

        def do_HEAD(self) -> None:
            self._route(body=False)

        def do_GET(self) -> None:
            self._route(body=True)

        def _route(self, body: bool) -> None:
            url = urlsplit(self.path)
            path = unquote(url.path)
            hub.requests.append((self.command, path, self.headers.get("range", "")))
            if path == "/api/models":
                return self._json(200, _search(hub, parse_qs(url.query)))
            if path.startswith("/api/models/") and "/tree/" in path:
                repo = path.removeprefix("/api/models/").split("/tree/", 1)[0]
                if repo not in hub.repos:
                    return self._error(401, "RepoNotFound", "Repository not found")
                return self._json(200, _tree(hub, hub.repos[repo]))
            if "/resolve/" in path:
                repo, rest = path.lstrip("/").split("/resolve/", 1)
                return self._file(repo, rest.split("/", 1)[1], body)
            if path == "/":
                return self._json(200, {"standin": True})
            return self._error(404, "", "not served by the stand-in")

        def _file(self, repo_id: str, name: str, body: bool) -> None:
            repo = hub.repos.get(repo_id)
            if repo is None:
                return self._error(401, "RepoNotFound", "Repository not found")
            if repo.gated:
                token = self.headers.get("authorization", "").removeprefix("Bearer ")
                if not token:
                    return self._error(
                        401, "GatedRepo", f"Access to model {repo_id} is restricted."
                    )
                if token != hub.allowed_token:
                    return self._error(
                        403,
                        "GatedRepo",
                        f"Access to model {repo_id} is restricted and you are"
                        " not in the authorized list.",
                    )
            if name == "README.md" and repo.readme:
                return self._bytes(200, repo.readme.encode(), "text/markdown", body)
            local = repo.files.get(name)
            if local is None:
                return self._error(404, "EntryNotFound", f"{name} does not exist on main")
            self._send_file(local, body)

        def _send_file(self, local: Path, body: bool) -> None:
            size = local.stat().st_size
            start = 0
            wanted = self.headers.get("range", "")
            if wanted.startswith("bytes=") and wanted.endswith("-"):
                start = int(wanted[6:-1])
            self.send_response(206 if start else 200)
            self.send_header("content-length", str(size - start))
            self.send_header("etag", f'"{hub.sha256(local)}"')
            self.send_header("accept-ranges", "bytes")
            self.send_header("x-repo-commit", REVISION)
            if start:
                self.send_header("content-range", f"bytes {start}-{size - 1}/{size}")
            self.end_headers()
            if not body:
                return
            began = time.monotonic()
            sent = 0
            with local.open("rb") as handle:
                handle.seek(start)
                while block := handle.read(self._next_read(sent)):
                    try:
                        self.wfile.write(block)
                    except (BrokenPipeError, ConnectionResetError):
                        return
                    sent += len(block)
                    if hub.rate:  # pace the stream: sleep until this many bytes are due
                        time.sleep(max(0.0, sent / hub.rate - (time.monotonic() - began)))
            if hub.drop_after and sent >= hub.drop_after:  # the network went away midway
                self.close_connection = True

        def _next_read(self, sent: int) -> int:
            return min(CHUNK, hub.drop_after - sent) if hub.drop_after else CHUNK

        def _json(self, status: int, data: object) -> None:
            self._bytes(status, json.dumps(data).encode(), "application/json", True)

        def _error(self, status: int, code: str, message: str) -> None:
            self.send_response(status)
            if code:
                self.send_header("x-error-code", code)
            self.send_header("x-error-message", message)
            data = json.dumps({"error": message}).encode()
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _bytes(self, status: int, data: bytes, kind: str, body: bool) -> None:
            self.send_response(status)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

    return Handler


def _search(hub: StandinHub, query: dict[str, list[str]]) -> list[dict[str, object]]:
    words = " ".join(query.get("search", [""])).lower().split()
    found = [
        {
            "_id": repo_id,
            "id": repo_id,
            "downloads": repo.downloads,
            "likes": repo.likes,
            "lastModified": repo.modified,
            "tags": ["gguf"],  # the Hub tags repos that only mention GGUF too
            "siblings": [{"rfilename": name} for name in repo.files],
        }
        for repo_id, repo in hub.repos.items()
        if all(word in repo_id.lower() for word in words)
    ]
    found.sort(key=lambda hit: -int(str(hit["downloads"])))
    limit = int(query.get("limit", ["1000"])[0])
    return found[:limit]


def _tree(hub: StandinHub, repo: StandinRepo) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = []
    for name, local in repo.files.items():
        size = local.stat().st_size
        entry: dict[str, object] = {"type": "file", "path": name, "size": size, "oid": "0" * 40}
        if name.endswith(".gguf"):
            entry["lfs"] = {"oid": hub.sha256(local), "size": size, "pointerSize": 134}
        entries.append(entry)
    return entries
