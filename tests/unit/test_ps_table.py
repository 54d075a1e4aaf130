"""``llamadash ps``'s table: the units a user reads, from the JSON of each InstanceInfo."""

from __future__ import annotations

from typing import Any

from llamadash.commands.ps_table import duration, memory, table, ttl_left


def row(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "gemma",
        "profile_name": "Gemma 3 270M",
        "state": "ready",
        "foreground": False,
        "port": 8100,
        "runtime": "process",
        "ident": "4242",
        "pid": 4242,
        "uptime": 3725.0,
        "pinned": True,
        "ttl": 300.0,
        "ttl_left": 61.0,
        "memory": 330 * 1024**2,
        "memory_measured": False,
        "log_path": "/state/logs/llamadash-gemma.log",
        "error": None,
        "health_ms": 0.84,
        "build": "b6100-abc",
    }
    return {**base, **over}


def test_durations_sizes_and_ttl_read_as_a_user_reads_them() -> None:
    assert [duration(s) for s in (None, 42, 725, 3725, 180000)] == [
        "-",
        "42s",
        "12m05s",
        "1h02m",
        "2d02h",
    ]
    assert memory(row()) == "~330 MiB (estimate)"
    assert memory(row(memory=5 * 1024**3 + 100 * 1024**2, memory_measured=True)) == "5.1 GiB"
    assert memory(row(memory=None)) == "-"
    assert ttl_left(row()) == "1m01s"
    assert ttl_left(row(ttl_left=None)) == "ttl 5m00s"  # no owner: nothing counts down
    assert ttl_left(row(ttl=0.0)) == "-"


def test_the_table_aligns_marks_the_foreground_and_lists_builds_logs_and_errors() -> None:
    front = row(id="tiny", foreground=True, pinned=False, ttl=0.0, memory_measured=True)
    failed = row(id="tiny2", state="failed", error="exited with code 137", uptime=None)
    lines = table([front, row(), failed]).splitlines()
    header = lines[0]
    assert header.split() == [
        "ID", "STATE", "PORT", "PID/CONTAINER", "UPTIME", "HEALTH", "MEMORY", "PIN", "TTL", "LEFT"
    ]  # fmt: skip
    assert lines[1].startswith("* tiny ") and lines[2].startswith("  gemma ")
    assert lines[1].index("ready") == header.index("STATE")  # aligned columns
    assert "4242" in lines[2] and "0.8 ms" in lines[2] and "pin" in lines[2]
    assert "gemma  Gemma 3 270M  build b6100-abc" in lines
    assert "       log /state/logs/llamadash-gemma.log" in lines
    assert "       error: exited with code 137" in lines
    assert table([]) == "no instance runs (start one: llamadash start <profile>)"
