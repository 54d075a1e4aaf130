"""``llamadash ps`` as a table, from the JSON form of each InstanceInfo (``GET /instances``).

The same dicts come from the owner's API and from a local look, so both print alike. Pure
formatting: no engine, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llamadash.core.memory import format_size

Row = Mapping[str, Any]
HEADER = ("ID", "STATE", "PORT", "PID/CONTAINER", "UPTIME", "HEALTH", "MEMORY", "PIN", "TTL LEFT")


def duration(seconds: object) -> str:
    """``42s``, ``12m05s``, ``3h04m``, ``2d03h``; ``-`` when unknown."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return "-"
    total = int(seconds)
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m{total % 60:02d}s"
    if total < 86400:
        return f"{total // 3600}h{total % 3600 // 60:02d}m"
    return f"{total // 86400}d{total % 86400 // 3600:02d}h"


def memory(row: Row) -> str:
    """``412 MiB`` measured at its load, ``~310 MiB (estimate)`` from its GGUF, or ``-``."""
    size = row.get("memory")
    if not isinstance(size, int) or not size:
        return "-"
    if row.get("memory_measured"):
        return format_size(size)
    return f"~{format_size(size)} (estimate)"


def ident(row: Row) -> str:
    """The PID (process runtime) or the short container id (compose)."""
    if row.get("runtime") == "process" and row.get("pid"):
        return str(row["pid"])
    return str(row.get("ident") or "")[:12] or "-"


def ttl_left(row: Row) -> str:
    """Idle time left before its ttl stops it; ``-`` without a ttl.

    Without an owner nothing counts down (no idle watch runs): then the ttl itself.
    """
    if not row.get("ttl"):
        return "-"
    left = row.get("ttl_left")
    return duration(left) if left is not None else f"ttl {duration(row['ttl'])}"


def health(row: Row) -> str:
    """How long its /health took."""
    ms = row.get("health_ms")
    return f"{ms:.1f} ms" if isinstance(ms, int | float) else "-"


def unreachable_line(host: Row) -> str:
    """``host gpu2 (tcp://…) unreachable at 12:04:05: <why>``."""
    import time

    seen = host.get("checked_at")
    at = time.strftime("%H:%M:%S", time.localtime(seen)) if isinstance(seen, int | float) else "?"
    where = f"host {host.get('name')} ({host.get('docker_host')})"
    return f"{where} unreachable at {at}: {host.get('error')}"


def cells(row: Row) -> tuple[str, ...]:
    """One table row; the foreground instance is marked ``*``."""
    mark = "*" if row.get("foreground") else " "
    return (
        f"{mark} {row.get('id', '')}",
        str(row.get("state", "")),
        str(row.get("port", "")),
        ident(row),
        duration(row.get("uptime")),
        health(row),
        memory(row),
        "pin" if row.get("pinned") else "-",
        ttl_left(row),
    )


def table(rows: Sequence[Row], hosts: Sequence[Row] = ()) -> str:
    """Every instance as aligned columns, then each one's build, log path and last error.

    With ``[host]`` sections a HOST column, and a line per host that did not answer.
    """
    unreachable = [unreachable_line(h) for h in hosts if not h.get("reachable")]
    if not rows:
        return "\n".join(["no instance runs (start one: llamadash start <profile>)", *unreachable])
    header: tuple[str, ...] = HEADER
    grid: list[tuple[str, ...]] = [cells(r) for r in rows]
    if hosts:
        header = (*HEADER[:1], "HOST", *HEADER[1:])
        grid = [(c[0], str(r.get("host", "")), *c[1:]) for c, r in zip(grid, rows, strict=True)]
    grid = [("  " + header[0], *header[1:]), *grid]
    widths = [max(len(line[i]) for line in grid) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in grid
    ]
    width = max(len(str(r.get("id", ""))) for r in rows)
    lines.append("")
    for row in rows:
        name = str(row.get("id", "")).ljust(width)
        build = f"  build {row['build']}" if row.get("build") else ""
        lines.append(f"{name}  {row.get('profile_name', '')}{build}")
        lines.append(f"{' ' * width}  log {row.get('log_path') or '-'}")
        if row.get("error"):
            lines.append(f"{' ' * width}  error: {row['error']}")
    lines.append("* foreground: the instance `switch` replaces")
    return "\n".join([*lines, *unreachable])
