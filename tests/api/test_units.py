"""Pieces of the API that need no engine: bind rule, token check, SSE buffer, metrics text."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any, cast

import pytest

from llamadash.api.auth import token_matches
from llamadash.api.guard import BrowserGuard, split_host
from llamadash.api.metrics import escape_label, histogram, render
from llamadash.api.server import ApiBindError, ApiServer, check_bind, is_loopback
from llamadash.api.sse import EventBuffer, format_event, is_progress
from llamadash.api.state import ApiContext
from llamadash.core.events import State, Status, SwitchEvent
from llamadash.core.histogram import Histogram
from llamadash.core.instance import DURATION_BUCKETS, Instance, SwitchStats
from llamadash.core.progress import Progress


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"]
)
def test_loopback_hosts_need_no_token(host: str) -> None:
    assert is_loopback(host)
    check_bind(host, "")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.168.1.10", "10.0.0.1", "example.org"])
def test_other_hosts_need_a_token(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(ApiBindError, match="without a token") as caught:
        check_bind(host, "")
    assert "api_token" in str(caught.value) and "LLAMADASH_API_TOKEN" in str(caught.value)
    check_bind(host, "s3cret")  # with a token it is allowed


def test_api_server_refuses_before_binding_anything() -> None:
    switcher = cast(
        Instance,
        SimpleNamespace(settings=SimpleNamespace(api_host="0.0.0.0", api_port=1, api_token="")),
    )
    with pytest.raises(ApiBindError, match=r"refusing to serve the API on 0\.0\.0\.0"):
        ApiServer(switcher)


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("localhost", ("localhost", None)),
        ("LocalHost:8081", ("localhost", 8081)),
        ("127.0.0.1:1", ("127.0.0.1", 1)),
        ("[::1]:8081", ("::1", 8081)),
        ("[::1]", ("::1", None)),
        ("localhost:", ("localhost", None)),  # RFC 3986 allows an empty port
        ("::1", None),  # a bare IPv6 address is not a Host header
        ("[::1", None),
        ("[::1]x", None),
        ("localhost:80a", None),
        (":8081", None),
        ("", None),
    ],
)
def test_split_host(value: str, parsed: tuple[str, int | None] | None) -> None:
    assert split_host(value) == parsed


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({b"host": b"127.0.0.1:8081"}, None),
        ({}, None),  # HTTP/1.0 without Host: no browser sends that
        ({b"host": b"127.0.0.1.nip.io:8081"}, "foreign_host"),
        ({b"host": b"localhost:8081", b"origin": b"http://localhost:8081"}, None),
        ({b"host": b"localhost", b"origin": b"http://localhost:80"}, None),  # default port
        ({b"host": b"localhost:8081", b"origin": b"https://localhost:8081"}, "cross_site"),
        ({b"host": b"localhost:8081", b"origin": b"http://localhost:8082"}, "cross_site"),
        ({b"host": b"localhost:8081", b"sec-fetch-site": b"none"}, None),  # typed in the bar
        ({b"host": b"localhost:8081", b"sec-fetch-site": b"Cross-Site"}, "cross_site"),
        ({b"sec-fetch-dest": b"empty", b"content-type": b"application/json; charset=utf-8"}, None),
        ({b"sec-fetch-dest": b"empty", b"transfer-encoding": b"chunked"}, "not_json"),
        ({b"content-type": b"text/plain"}, None),  # no browser header: curl, a script
    ],
)
def test_browser_guard_decisions(headers: dict[bytes, bytes], code: str | None) -> None:
    guard = BrowserGuard(cast(Any, None), bind_host="127.0.0.1", token=False)
    refused = guard.refusal(headers)
    assert (refused and refused.code) == code


def test_any_host_only_off_loopback_with_a_token() -> None:
    foreign = {b"host": b"llm-box.lan:8081"}
    for bind, token, answered in [
        ("0.0.0.0", True, True),
        ("192.168.1.10", True, True),
        ("127.0.0.1", True, False),
        ("0.0.0.0", False, False),  # check_bind refuses to listen so; the guard holds anyway
    ]:
        guard = BrowserGuard(cast(Any, None), bind_host=bind, token=token)
        assert (guard.refusal(foreign) is None) == answered, (bind, token)


async def test_a_cross_site_websocket_is_closed_before_it_is_accepted() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not see it")

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    guard = BrowserGuard(app, bind_host="127.0.0.1", token=False)
    headers = [(b"host", b"127.0.0.1:8081"), (b"origin", b"http://evil.example")]
    await guard({"type": "websocket", "headers": headers}, receive, send)
    assert [m["type"] for m in sent] == ["websocket.close"] and sent[0]["code"] == 1008


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (b"Bearer s3cret", True),
        (b"bearer s3cret", True),
        (b"BEARER  s3cret ", True),
        (b"Bearer s3cre", False),
        (b"Bearer s3cret2", False),
        (b"Basic s3cret", False),
        (b"s3cret", False),
        (b"Bearer", False),
        (b"", False),
        (None, False),
        ("Bearer \u00e9".encode("latin-1"), False),
    ],
)
def test_token_matches(header: bytes | None, ok: bool) -> None:
    assert token_matches(header, "s3cret") is ok


def event(state: State, pct: float | None = None, at: float = 0.0) -> SwitchEvent:
    progress = Progress("loading tensors", pct, 1.0, None) if pct is not None else None
    return SwitchEvent(state, "tiny", "Tiny", at, progress=progress)


async def test_event_buffer_is_fifo_and_waits() -> None:
    buffer = EventBuffer(4)
    getter = asyncio.ensure_future(buffer.get())
    await asyncio.sleep(0)
    assert not getter.done()
    buffer.put(event(State.STOPPING))
    assert (await getter).state == State.STOPPING
    buffer.put(event(State.STARTING))
    buffer.put(event(State.LOADING, 10))
    assert [(await buffer.get()).state for _ in range(2)] == [State.STARTING, State.LOADING]


async def test_a_full_buffer_drops_the_oldest_progress_update_first() -> None:
    buffer = EventBuffer(4)
    buffer.put(event(State.STARTING))
    for pct in (10, 20, 30):
        buffer.put(event(State.LOADING, pct))
    buffer.put(event(State.LOADING, 40))  # full: 10% goes
    buffer.put(event(State.READY))  # full: 20% goes
    got = [await buffer.get() for _ in range(len(buffer))]
    assert [(e.state, e.progress.pct if e.progress else None) for e in got] == [
        (State.STARTING, None),
        (State.LOADING, 30),
        (State.LOADING, 40),
        (State.READY, None),
    ]
    assert buffer.dropped == 2


async def test_a_buffer_of_state_changes_only_stays_bounded() -> None:
    buffer = EventBuffer(3)
    for i in range(1000):
        buffer.put(event(State.STOPPING, at=i))
    assert len(buffer) == 3 and buffer.dropped == 997
    assert [(await buffer.get()).at for _ in range(3)] == [997, 998, 999]


def test_a_slow_client_cannot_grow_memory() -> None:
    buffer = EventBuffer(256)
    buffer.put(event(State.STARTING))
    for pct in range(100_000):
        buffer.put(event(State.LOADING, pct % 100))
    assert len(buffer) == 256
    assert buffer._items[0].state == State.STARTING  # the state change survived


def test_is_progress() -> None:
    assert is_progress(event(State.LOADING, 5))
    assert not is_progress(event(State.LOADING))
    assert not is_progress(event(State.READY))


def test_format_event_is_one_sse_message() -> None:
    text = format_event("state", {"message": "a\nb", "x": 1}).decode()
    assert text == 'event: state\ndata: {"message":"a\\nb","x":1}\n\n'


def test_histogram_is_cumulative_with_sum_and_count() -> None:
    hist = Histogram((0.5, 1, 5))
    for value in (0.2, 1.0, 3.0, 700.0):
        hist.observe(value)
    lines = histogram("x_seconds", "help", hist)
    assert lines[2:] == [
        'x_seconds_bucket{le="0.5"} 1',
        'x_seconds_bucket{le="1"} 2',
        'x_seconds_bucket{le="5"} 3',
        'x_seconds_bucket{le="+Inf"} 4',
        "x_seconds_sum 704.2",
        "x_seconds_count 4",
    ]


def test_escape_label() -> None:
    assert escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


def test_render_has_every_required_series() -> None:
    durations = Histogram(DURATION_BUCKETS)
    durations.observe(1.5)
    durations.observe(0.7)
    switcher = SimpleNamespace(stats=SwitchStats(3, 1, 2, durations))
    ctx = ApiContext(cast(Any, switcher))
    status = Status(State.LOADING, "g", 'Gemma "3"', time.time(), "compose", "http://x")
    text = render(ctx, status)
    for line in (
        "llamadash_switches_total 3",
        "llamadash_switch_failures_total 1",
        "llamadash_switches_superseded_total 2",
        'llamadash_switch_duration_seconds_bucket{le="1"} 1',
        'llamadash_switch_duration_seconds_bucket{le="2"} 2',
        'llamadash_switch_duration_seconds_bucket{le="+Inf"} 2',
        "llamadash_switch_duration_seconds_count 2",
        "llamadash_switch_duration_seconds_sum 2.2",
        'llamadash_state{state="loading"} 1',
        'llamadash_state{state="ready"} 0',
        'llamadash_info{profile="g",name="Gemma \\"3\\"",runtime="compose"} 1',
        "# TYPE llamadash_switch_duration_seconds histogram",
        "# TYPE llamadash_switches_total counter",
    ):
        assert line in text.splitlines(), line
    assert sum(line.startswith("llamadash_state{") for line in text.splitlines()) == len(State)
    assert all(
        line.startswith(("# HELP llamadash_", "# TYPE llamadash_", "llamadash_"))
        for line in text.splitlines()
    )
