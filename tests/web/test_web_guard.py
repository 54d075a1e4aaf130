"""Who may reach a real ``llamadash web``: HTTP and websocket clients with a browser's headers.

A hostile page can make the browser send any of these; a cross-site websocket that opened
would hold the dashboard's keys (switch, stop), so it is refused whether or not it has the token.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import psutil
import pytest

from tests.support.web import WebProcess
from tests.web.conftest import web_conf

TOKEN = "web-s3cret"
EVIL = "http://evil.example"


@pytest.fixture(scope="module")
def conf(module_dir: Path, models_dir: Path, tiny_gguf: Path) -> Path:
    return web_conf(module_dir, models_dir)[0]


@pytest.fixture(scope="module")
def with_token(conf: Path) -> Iterator[WebProcess]:
    web = WebProcess(conf, env={"LLAMADASH_WEB_TOKEN": TOKEN})
    yield web
    web.stop()


@pytest.fixture(scope="module")
def open_web(conf: Path) -> Iterator[WebProcess]:
    web = WebProcess(conf)
    yield web
    web.stop()


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    # unsafe: keep cookies for an IP address (127.0.0.1), as a browser does.
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        yield session


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def handshake_status(
    client: aiohttp.ClientSession, web: WebProcess, headers: dict[str, str]
) -> int:
    """The status a websocket handshake to /ws gets (101 when it opened)."""
    try:
        async with client.ws_connect(f"{web.base}/ws?width=80&height=24", headers=headers) as ws:
            await ws.close()
            return 101
    except aiohttp.WSServerHandshakeError as refused:
        return refused.status


def test_the_url_printed_brings_the_token(with_token: WebProcess, open_web: WebProcess) -> None:
    assert with_token.url == f"{with_token.base}/?token={TOKEN}"
    assert open_web.url == f"{open_web.base}/"
    assert with_token.base.startswith("http://127.0.0.1:")


async def test_a_foreign_host_is_refused_with_421(
    client: aiohttp.ClientSession, with_token: WebProcess, open_web: WebProcess
) -> None:
    for web, headers in ((open_web, {}), (with_token, bearer())):
        async with client.get(f"{web.base}/", headers={**headers, "Host": "evil.example"}) as r:
            assert r.status == 421, await r.text()
            assert "evil.example" in await r.text()
        async with client.get(f"{web.base}/", headers={**headers, "Host": "localhost"}) as r:
            assert r.status == 200  # a loopback name is fine


async def test_a_cross_site_websocket_is_refused_with_or_without_the_token(
    client: aiohttp.ClientSession, with_token: WebProcess, open_web: WebProcess
) -> None:
    assert await handshake_status(client, open_web, {"Origin": EVIL}) == 403
    assert await handshake_status(client, with_token, {"Origin": EVIL}) == 403
    assert await handshake_status(client, with_token, {**bearer(), "Origin": EVIL}) == 403
    # Another port of localhost is another origin too.
    other_port = {**bearer(), "Origin": "http://127.0.0.1:1"}
    assert await handshake_status(client, with_token, other_port) == 403
    cross_site = {**bearer(), "Sec-Fetch-Site": "cross-site"}
    assert await handshake_status(client, with_token, cross_site) == 403


async def test_a_cross_site_write_is_refused(
    client: aiohttp.ClientSession, with_token: WebProcess, open_web: WebProcess
) -> None:
    for web in (open_web, with_token):
        headers = {**bearer(), "Origin": EVIL, "Content-Type": "text/plain"}
        async with client.post(f"{web.base}/", data="s", headers=headers) as r:
            assert r.status == 403, await r.text()


async def test_without_the_token_the_page_says_how_to_get_in(
    client: aiohttp.ClientSession, with_token: WebProcess
) -> None:
    async with client.get(f"{with_token.base}/") as r:
        assert r.status == 401
        assert "?token=" in await r.text()
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    async with client.get(f"{with_token.base}/?token=wrong", allow_redirects=False) as r:
        assert r.status == 401
    async with client.get(f"{with_token.base}/", headers=bearer("wrong")) as r:
        assert r.status == 401
    # Not even the websocket, from the page's own origin.
    same_origin = {"Origin": with_token.base}
    assert await handshake_status(client, with_token, same_origin) == 401


async def test_the_token_is_traded_for_a_strict_http_only_cookie(
    client: aiohttp.ClientSession, with_token: WebProcess
) -> None:
    async with client.get(with_token.url + "&fontsize=14", allow_redirects=False) as r:
        assert r.status == 303
        assert r.headers["Location"] == "/?fontsize=14"  # the token leaves the address bar
        cookie = r.headers["Set-Cookie"]
    assert TOKEN in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    async with client.get(f"{with_token.base}/?fontsize=14") as r:  # with the cookie now
        assert r.status == 200
        page = await r.text()
    port = with_token.base.rsplit(":", 1)[1]
    assert f'data-session-websocket-url="ws://127.0.0.1:{port}/ws"' in page
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    async with client.get(f"{with_token.base}/static/js/textual.js") as r:
        assert r.status == 200  # textual-serve's own script, served offline


async def test_the_pages_own_websocket_opens_and_draws_the_dashboard(
    client: aiohttp.ClientSession, with_token: WebProcess
) -> None:
    """The same origin with the cookie: the handshake the refusals above are measured against."""
    async with client.get(with_token.url) as r:
        assert r.status == 200
    url = f"{with_token.base}/ws?width=100&height=30"
    async with client.ws_connect(url, headers={"Origin": with_token.base}) as ws:
        drawn = b""
        while b"Models" not in drawn:  # the footer's key help; the dashboard runs
            message = await ws.receive(timeout=60)
            assert message.type == aiohttp.WSMsgType.BINARY, message
            drawn += message.data
        await ws.close()


def web_verb(conf: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "llamadash", "--models-conf", str(conf), "web", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_off_loopback_without_a_token_it_refuses_to_start(conf: Path) -> None:
    done = web_verb(conf, "--host", "0.0.0.0")
    assert done.returncode == 2
    assert "without a token" in done.stderr
    assert "--token" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_busy_port_is_one_clear_line(conf: Path, open_web: WebProcess) -> None:
    port = open_web.base.rsplit(":", 1)[1]
    done = web_verb(conf, "--port", port)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


async def test_ctrl_c_ends_every_session_before_the_server_exits(conf: Path) -> None:
    """A session's dashboard is in its own session (the terminal's Ctrl-C reaches only the
    listener), so the listener itself must quit it: no dashboard is left behind."""
    web = WebProcess(conf)
    try:
        async with (
            aiohttp.ClientSession() as client,
            client.ws_connect(f"{web.base}/ws", headers={"Origin": web.base}) as ws,
        ):
            drawn = b""
            while b"Models" not in drawn:
                message = await ws.receive(timeout=60)
                assert message.type == aiohttp.WSMsgType.BINARY, message
                drawn += message.data
            (dashboard,) = psutil.Process(web.process.pid).children()
            assert os.getsid(dashboard.pid) == dashboard.pid
            web.process.send_signal(signal.SIGINT)
            assert await asyncio.to_thread(web.process.wait, 30) == 0
        assert not dashboard.is_running() or dashboard.status() == psutil.STATUS_ZOMBIE
    finally:
        web.stop()


def test_a_port_out_of_range_is_one_clear_line(conf: Path) -> None:
    done = web_verb(conf, "--port", "70000")  # getaddrinfo would wrap it to 4464
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["error: web_port: want 0-65535, got 70000"]
