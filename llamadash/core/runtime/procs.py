"""Host processes as the process runtime sees them: alive, its command line, signals, log files."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def wait_child(child: subprocess.Popen[bytes] | None, seconds: float) -> bool:
    """Wait for our child to exit (and reap it); True if it did within ``seconds``."""
    assert child is not None
    try:
        child.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


def pid_alive(pid: int) -> bool:
    """Alive and not a zombie (a zombie answers kill(pid, 0) too)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def cmdline(pid: int) -> bytes:
    """The NUL-separated command line of ``pid`` (empty once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def signal_pid(pid: int, sig: int) -> None:
    """Send ``sig`` to ``pid``; a process already gone is no error."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return


def rotate(path: Path, backups: int) -> None:
    """Keep ``backups`` old copies of a log: ``path`` → ``path.1`` → … (an empty one is kept)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    for index in range(backups - 1, 0, -1):
        older = path.with_name(f"{path.name}.{index}")
        if older.exists():
            older.replace(path.with_name(f"{path.name}.{index + 1}"))
    path.replace(path.with_name(f"{path.name}.1"))
