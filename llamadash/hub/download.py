"""One file from the Hub into place: ``<file>.partial``, resumed with Range, sha256, rename.

Written here (on urllib3, see transport.py) rather than with ``hf_hub_download``: measured
with huggingface_hub 2.4, a download stopped with SIGINT left no partial file, one killed with
SIGKILL a 0-byte ``.incomplete`` with a per-process suffix, and the next run sent no Range: it
started over. Here the partial file is the only state: any later process continues it (a lock
keeps two from writing it at once), and the file appears under its final name only complete
and checked.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from llamadash.hub.remote import Hub, HubError, gated
from llamadash.hub.transport import Response, TransportError, describe, open_stream

CHUNK = 256 * 1024  # one read, write and hash update per this many bytes


@dataclass(frozen=True)
class Transfer:
    """How far one file is: bytes done of its total, and where it started (a resume)."""

    name: str
    done: int
    total: int
    resumed_from: int


Listener = Callable[[Transfer], None]


class PullInterrupted(Exception):
    """Ctrl-C during a transfer: the partial file stays, the next pull continues it."""

    def __init__(self, partial: Path, done: int, total: int) -> None:
        self.partial = partial
        self.done = done
        self.total = total
        super().__init__(f"interrupted: kept {done:,} of {total:,} bytes in {partial}")


def partial_path(target: Path) -> Path:
    """Where ``target`` grows until it is complete and checked."""
    return target.with_name(target.name + ".partial")


def fetch(
    hub: Hub,
    url: str,
    target: Path,
    size: int,
    sha256: str | None,
    *,
    listener: Listener = lambda _: None,
) -> None:
    """Download ``url`` to ``target`` (``size`` bytes, checked against ``sha256``).

    Raises:
        HubError: refused (gated, missing), the connection failed, another process is
            pulling the same file, or the checksum does not match (the partial is removed).
        PullInterrupted: Ctrl-C; the partial file is kept for the next pull.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    with partial.open("ab+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HubError(f"another pull is writing {partial} right now") from None
        if _finished_meanwhile(target, size, handle):  # by the pull that held the lock
            partial.unlink(missing_ok=True)
            return
        digest, offset = _resume_state(handle, size)
        if offset < size:
            start = Transfer(target.name, offset, size, offset)
            digest = _stream(hub, url, handle, digest, start, listener=listener)
        handle.flush()
        os.fsync(handle.fileno())
        if sha256 and digest.hexdigest() != sha256.lower():
            partial.unlink(missing_ok=True)
            raise HubError(
                f"{target.name}: sha256 {digest.hexdigest()[:12]}… is not the Hub's"
                f" {sha256[:12]}…: the download was removed; run the pull again"
            )
        os.replace(partial, target)
    _fsync_dir(target.parent)


def _finished_meanwhile(target: Path, size: int, handle: BinaryIO) -> bool:
    """Another process completed ``target`` while this one waited (our partial is new)."""
    handle.seek(0, os.SEEK_END)
    return handle.tell() == 0 and target.is_file() and target.stat().st_size == size


def _resume_state(handle: BinaryIO, size: int) -> tuple[hashlib._Hash, int]:
    """The hash of the bytes already there and where to continue (a too-long file restarts)."""
    handle.seek(0, os.SEEK_END)
    offset = handle.tell()
    if offset > size:
        handle.truncate(0)
        offset = 0
    digest = hashlib.sha256()
    handle.seek(0)
    while block := handle.read(CHUNK * 8):
        digest.update(block)
    return digest, offset


def _stream(
    hub: Hub,
    url: str,
    handle: BinaryIO,
    digest: hashlib._Hash,
    progress: Transfer,
    *,
    listener: Listener,
) -> hashlib._Hash:
    """Append the rest of the file to ``handle``; the hash of the whole file so far."""
    headers = dict(hub.headers)
    if progress.done:
        headers["range"] = f"bytes={progress.done}-"
    done = progress.done
    buffer = memoryview(bytearray(CHUNK))
    try:
        answer = open_stream(url, headers)
        try:
            _check_answer(answer, hub, url, headers)
            if done and answer.status == 200:
                # The server ignored Range (some mirrors do): start over, cleanly.
                handle.truncate(0)
                digest, done = hashlib.sha256(), 0
            progress = Transfer(progress.name, done, progress.total, done)
            listener(progress)
            while count := answer.readinto(buffer):
                block = buffer[:count]
                handle.write(block)
                digest.update(block)
                done += count
                listener(Transfer(progress.name, done, progress.total, progress.resumed_from))
        finally:
            answer.release_conn()
    except KeyboardInterrupt:
        handle.flush()
        raise PullInterrupted(Path(handle.name), done, progress.total) from None
    except TransportError as exc:
        handle.flush()
        raise HubError(
            f"{progress.name}: the connection failed after {done:,} of {progress.total:,}"
            f" bytes ({describe(exc)}); run the pull again to continue"
        ) from None
    if done != progress.total:
        raise HubError(
            f"{progress.name}: got {done:,} of {progress.total:,} bytes; run the pull again"
            " to continue"
        )
    return digest


def _check_answer(answer: Response, hub: Hub, url: str, sent: dict[str, str]) -> None:
    """Turn a refusal into its one-line error (the Hub names gated repos in X-Error-Code)."""
    if answer.status in (200, 206):
        if answer.status == 206:
            _check_content_range(answer, sent)
        return
    repo = url.removeprefix(hub.endpoint + "/").split("/resolve/", 1)[0]
    code = answer.headers.get("x-error-code", "")
    if code == "GatedRepo" or (answer.status == 403 and "gated" in _text(answer)):
        raise gated(hub, repo)
    if answer.status in (401, 403):
        raise HubError(
            f"{repo}: the Hub refused the download ({answer.status}"
            f" {answer.headers.get('x-error-message', '')}): a private or gated repo needs"
            f" HF_TOKEN (or `hf auth login`); see {hub.page(repo)}"
        )
    if answer.status == 404:
        raise HubError(f"{url}: not on the Hub (404); the repo may have changed: run info")
    raise HubError(f"{url}: the Hub answered {answer.status}")


def _check_content_range(answer: Response, sent: dict[str, str]) -> None:
    # "bytes START-END/TOTAL": a server that resumes elsewhere would corrupt the file.
    wanted = sent.get("range", "bytes=0-").removeprefix("bytes=").split("-")[0]
    got = answer.headers.get("content-range", "").removeprefix("bytes ").split("-")[0]
    if got != wanted:
        raise HubError(f"the server resumed at byte {got or '?'}, not {wanted}: run it again")


def _text(answer: Response) -> str:
    with contextlib.suppress(TransportError):
        return bytes(answer.read(64 * 1024)).decode("utf-8", "replace").lower()
    return ""


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
