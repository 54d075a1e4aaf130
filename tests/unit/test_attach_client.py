"""The attached dashboard's client pieces that need no owner: the address and the SSE reader."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from llamadash.commands.attach import api_url
from llamadash.remote.client import _events


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("127.0.0.1:8081", "http://127.0.0.1:8081"),
        ("http://gpu-box:8081/", "http://gpu-box:8081"),
        ("https://[::1]:9000", "https://[::1]:9000"),
        ("http://0.0.0.0:8081", "http://127.0.0.1:8081"),
        ("http://[::]:8081", "http://[::1]:8081"),
    ],
)
def test_an_address_becomes_the_api_base_url(given: str, url: str) -> None:
    assert api_url(given) == url


@pytest.mark.parametrize("given", ["gpu-box", "ftp://host:21", "http://host:80/status", ":8081"])
def test_an_address_without_host_and_port_is_refused_with_the_form_wanted(given: str) -> None:
    with pytest.raises(ValueError, match="http://HOST:PORT"):
        api_url(given)


async def _lines(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line


def test_the_reader_yields_named_events_and_skips_comments_and_unknown_names() -> None:
    async def read() -> list[tuple[str, str]]:
        source = _lines(
            ": keepalive", "", "event: hello", 'data: {"a": 1}', "",
            "event: pull", "data: {}", "", "event: logs", "data: {", "data: }", "",
        )  # fmt: skip
        return [item async for item in _events(source)]

    assert asyncio.run(read()) == [("hello", '{"a": 1}'), ("logs", "{\n}")]
