"""Host PID helpers: which processes belong to a container (psutil and /proc)."""

from __future__ import annotations

from pathlib import Path

import psutil

__all__ = ["pid_in_container", "pids_of_container", "process_name"]


def pids_of_container(container_pid: int) -> set[int]:
    """Return ``container_pid`` and all its descendants (host PIDs); empty if it is gone."""
    try:
        root = psutil.Process(container_pid)
        children = root.children(recursive=True)
    except (psutil.Error, ValueError):
        return set()
    return {container_pid, *(child.pid for child in children)}


def pid_in_container(pid: int, container_id: str) -> bool:
    """True if ``/proc/<pid>/cgroup`` names the container ``container_id`` (full or >= 12 chars)."""
    if len(container_id) < 12:
        return False
    try:
        text = Path(f"/proc/{pid}/cgroup").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return container_id in text


def process_name(pid: int) -> str | None:
    """The process name of ``pid``, or None when it is not visible from here."""
    try:
        return psutil.Process(pid).name()
    except (psutil.Error, ValueError):
        return None
