"""LogHub: bounded scrollback, since(seq) polling, separators, rotating file."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from llamadash.core.logs import LogHub


def _files(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name))


def test_buffer_is_bounded_to_max_lines() -> None:
    hub = LogHub(max_lines=5)
    hub.extend([f"line {i}" for i in range(12)])
    assert hub.snapshot() == tuple(f"line {i}" for i in range(7, 12))
    hub.extend(("x",))
    assert hub.snapshot() == ("line 8", "line 9", "line 10", "line 11", "x")


def test_tail() -> None:
    hub = LogHub(max_lines=10)
    hub.extend(["a", "b", "c"])
    assert hub.tail(2) == ["b", "c"]
    assert hub.tail(3) == ["a", "b", "c"]
    assert hub.tail(50) == ["a", "b", "c"]


def test_extend_with_nothing_does_nothing() -> None:
    hub = LogHub()
    hub.extend([])
    assert hub.since(0) == (0, ())


def test_since_returns_only_new_lines() -> None:
    hub = LogHub(max_lines=100)
    seq, lines = hub.since(0)
    assert (seq, lines) == (0, ())
    hub.extend(["a", "b"])
    seq, lines = hub.since(seq)
    assert (seq, lines) == (2, ("a", "b"))
    assert hub.since(seq) == (2, ())
    hub.extend(["c"])
    hub.extend(["d", "e"])
    assert hub.since(seq) == (5, ("c", "d", "e"))
    assert hub.since(4) == (5, ("e",))


def test_since_survives_buffer_wrap() -> None:
    hub = LogHub(max_lines=4)
    hub.extend(["a", "b"])
    seq, _ = hub.since(0)
    assert seq == 2
    # 3 new lines: the buffer (4) still holds all of them
    hub.extend(["c", "d", "e"])
    seq2, lines = hub.since(seq)
    assert (seq2, lines) == (5, ("c", "d", "e"))
    # 10 new lines: more than the buffer holds, so the poller gets what is left
    hub.extend([f"n{i}" for i in range(10)])
    seq3, lines = hub.since(seq2)
    assert seq3 == 15
    assert lines == ("n6", "n7", "n8", "n9")
    assert hub.since(seq3) == (15, ())
    # a sequence number from the future (e.g. a poller of an earlier hub) yields nothing
    assert hub.since(1000) == (15, ())


def test_separator_format() -> None:
    hub = LogHub()
    hub.extend(["before"])
    hub.separator("switching to gemma-demo")
    hub.extend(["after"])
    assert hub.snapshot() == ("before", "--- switching to gemma-demo ---", "after")


def test_file_gets_every_line(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "server.log"  # parent is created
    hub = LogHub(path)
    hub.extend(["one", "two"])
    hub.separator("switching to x")
    assert path.read_text() == "one\ntwo\n--- switching to x ---\n"


def test_file_rotates_and_keeps_at_most_backups(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    hub = LogHub(path, max_bytes=100, backups=3)
    line = "x" * 39  # 40 bytes with its newline: two lines per file
    for i in range(20):
        hub.extend([f"{i:02d}" + line[2:]])
        assert path.stat().st_size <= 100
    assert _files(path) == ["server.log", "server.log.1", "server.log.2", "server.log.3"]
    # newest in server.log, then .1, .2, .3 going back in time; older ones are gone
    current = path.read_text().splitlines()
    assert [row[:2] for row in current] == ["18", "19"]
    assert [row[:2] for row in (tmp_path / "server.log.1").read_text().splitlines()] == [
        "16",
        "17",
    ]
    assert [row[:2] for row in (tmp_path / "server.log.3").read_text().splitlines()] == [
        "12",
        "13",
    ]


@pytest.mark.parametrize("backups", [1, 2, 5])
def test_rotation_never_exceeds_backups(tmp_path: Path, backups: int) -> None:
    path = tmp_path / "server.log"
    hub = LogHub(path, max_bytes=50, backups=backups)
    for i in range(100):
        hub.extend([f"line {i:03d} " + "y" * 20])
    names = _files(path)
    assert names == ["server.log"] + [f"server.log.{n}" for n in range(1, backups + 1)]


def test_a_batch_bigger_than_max_bytes_is_written_whole(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    hub = LogHub(path, max_bytes=10, backups=2)
    hub.extend(["a" * 30])
    assert path.read_text() == "a" * 30 + "\n"
    hub.extend(["b"])
    assert path.read_text() == "b\n"
    assert (tmp_path / "server.log.1").read_text() == "a" * 30 + "\n"


def test_existing_file_size_counts_toward_rotation(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    path.write_text("o" * 95 + "\n")
    hub = LogHub(path, max_bytes=100, backups=2)
    hub.extend(["new line"])
    assert (tmp_path / "server.log.1").read_text() == "o" * 95 + "\n"
    assert path.read_text() == "new line\n"


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    hub = LogHub(tmp_path / "server.log", max_lines=100_000)

    def writer(n: int) -> None:
        for i in range(200):
            hub.extend([f"{n}-{i}"])

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = {f"{n}-{i}" for n in range(4) for i in range(200)}
    assert set(hub.snapshot()) == expected
    assert hub.since(0)[0] == 800
    assert set((tmp_path / "server.log").read_text().splitlines()) == expected


def test_appends_reach_the_file_at_once_through_one_kept_handle(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    hub = LogHub(path, max_lines=5, max_bytes=10_000)
    for n in range(20):
        hub.extend((f"line {n}",))
        # Another process (llamadash logs -f) reads the file: nothing waits in a buffer.
        assert path.read_text().splitlines()[-1] == f"line {n}"
    assert hub.since(17) == (20, ("line 17", "line 18", "line 19"))
    assert hub.since(0) == (20, tuple(f"line {n}" for n in range(15, 20)))  # what is kept
    hub.close()
    hub.extend(("after close",))  # reopens
    assert path.read_text().splitlines()[-1] == "after close"
    hub.close()


def test_the_reader_is_woken_once_per_unread_batch() -> None:
    hub = LogHub()
    calls: list[str] = []
    hub.on_new(lambda: calls.append(threading.current_thread().name))
    hub.extend(("a",))
    hub.extend(("b",))  # not read yet: no second wake-up
    assert len(calls) == 1
    seq, lines = hub.since(0)
    assert lines == ("a", "b")
    writer = threading.Thread(target=hub.extend, args=(("c",),), name="follower")
    writer.start()
    writer.join()
    assert calls[-1] == "follower" and len(calls) == 2  # read, then new lines: woken again
    assert hub.since(seq) == (3, ("c",))
    hub.on_new(None)
    hub.extend(("d",))
    assert len(calls) == 2


def test_another_reader_polling_leaves_the_woken_readers_state_alone() -> None:
    # Regression: an attached dashboard's stream polled since() 4 times a second, which reset
    # the dashboard's "told" flag: during a flood it was woken (a timer each) per append.
    hub = LogHub()
    calls: list[int] = []
    hub.on_new(lambda: calls.append(1))
    hub.extend(("a",))
    assert hub.lines_since(0) == (1, ("a",))
    assert hub.seq == 1
    hub.extend(("b",))  # the woken reader has not read yet: not woken again
    assert len(calls) == 1
    assert hub.since(0) == (2, ("a", "b"))
