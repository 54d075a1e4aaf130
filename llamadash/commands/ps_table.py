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


def table(rows: Sequence[Row]) -> str:
    """Every instance as aligned columns, then each one's build, log path and last error."""
    if not rows:
        return "no instance runs (start one: llamadash start <profile>)"
    grid = [("  " + HEADER[0], *HEADER[1:]), *(cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in grid) for i in range(len(HEADER))]
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
    return "\n".join(lines)
