"""The dashboard in a real browser: headless Chromium on ``llamadash web``, a real llama-server.

The page's terminal is textual-serve's xterm.js drawing on a canvas, so its text is read from
xterm.js's own buffer: an init script keeps the Terminal the page creates (the assignment
``this.terminal = new Terminal(…)`` in textual-serve's script meets a setter on
Object.prototype). What the keys did is checked outside the browser: the side API and
llama-server's /props.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import missing
from tests.support.web import WebProcess
from tests.web.conftest import web_conf

pytestmark = pytest.mark.engine

TOKEN = "browser-s3cret"
# This machine's network is closed: without these Chromium stalls on refused connections.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
KEEP_TERMINAL = """
Object.defineProperty(Object.prototype, 'terminal', {
  configurable: true,
  set(value) {
    Object.defineProperty(this, 'terminal', {value, writable: true, configurable: true});
    if ('websocket_url' in this) { window.llamadashTerminal = value; }
  },
});
"""
READ_ROWS = """() => {
  const terminal = window.llamadashTerminal;
  if (!terminal) return '';
  const rows = [];
  for (let y = 0; y < terminal.rows; y++) {
    const line = terminal.buffer.active.getLine(y);
    rows.push(line ? line.translateToString(true) : '');
  }
  return rows.join('\\n');
}"""
# The browser decodes the screenshot: its size, how many colours, the commonest one's share.
COLOURS = """async (png) => {
  const image = new Image();
  image.src = 'data:image/png;base64,' + png;
  await image.decode();
  const canvas = document.createElement('canvas');
  [canvas.width, canvas.height] = [image.width, image.height];
  const context = canvas.getContext('2d');
  context.drawImage(image, 0, 0);
  const data = context.getImageData(0, 0, image.width, image.height).data;
  const counts = new Map();
  for (let i = 0; i < data.length; i += 4) {
    const key = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    counts.set(key, (counts.get(key) || 0) + 1);
  }
  const top = Math.max(...counts.values());
  return {width: image.width, height: image.height, colours: counts.size,
          top_share: top / (data.length / 4)};
}"""
VIEWPORT = {"width": 1400, "height": 900}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the module (Debian's, not a Playwright download)."""
    executable = shutil.which("chromium")
    if executable is None:
        missing("chromium", "apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright", "pip install -e .[dev]")
    with sync_playwright() as playwright:
        # launch() gives every run a fresh temporary profile (its --user-data-dir).
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def served(
    module_dir: Path, all_models: Path, llama_server_bin: Path
) -> Iterator[tuple[WebProcess, Path, int, int]]:
    """``llamadash web`` with a token, and (its models.conf, server port, API port)."""
    conf, server_port, api_port = web_conf(module_dir, all_models)
    env = {"LLAMA_SERVER": str(llama_server_bin), "LLAMADASH_WEB_TOKEN": TOKEN}
    web = WebProcess(conf, env=env)
    yield web, conf, server_port, api_port
    web.stop()
    stop = [sys.executable, "-m", "llamadash", "--models-conf", str(conf), "stop", "all"]
    subprocess.run(stop, capture_output=True, timeout=60, check=False)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as answer:  # loopback only
        return json.loads(answer.read())


def ready_as(api_port: int, profile_id: str) -> Callable[[], Any]:
    """The side API's /status once it says ``profile_id`` is ready, else None."""

    def check() -> Any:
        status = get_json(f"http://127.0.0.1:{api_port}/status")
        return status if (status["state"], status["profile_id"]) == ("ready", profile_id) else None

    return check


def wait_for(
    condition: Callable[[], Any], timeout: float, what: str, shown: Callable[[], str]
) -> Any:
    """Poll ``condition`` until it is truthy; on timeout say what ``shown`` (the page) showed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except OSError:  # not listening yet
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; page:\n{shown()}")


def sessions(web: WebProcess) -> list[psutil.Process]:
    """The page sessions' dashboards (the children of web that attach)."""
    return [c for c in psutil.Process(web.process.pid).children() if "attach" in c.cmdline()]


def test_the_dashboard_in_a_browser_shows_its_panes_and_switches_models(
    chromium: Any, served: tuple[WebProcess, Path, int, int], module_dir: Path
) -> None:
    web, conf, server_port, api_port = served
    page = chromium.new_page(viewport=VIEWPORT)
    page.add_init_script(KEEP_TERMINAL)
    page.goto(web.url)  # ?token=…: traded for the cookie, the token leaves the address bar
    assert page.url == f"{web.base}/"

    def screen() -> str:
        return str(page.evaluate(READ_ROWS))

    def showing(*texts: str) -> Callable[[], str | None]:
        return lambda: text if all(t in (text := screen()) for t in texts) else None

    panes = ("GPU", "System", "Server", "Logs", "m Models")
    text = wait_for(showing(*panes, "Idle: no model running"), 60, "the panes", screen)
    assert f"api http://127.0.0.1:{api_port}" in text
    shot = module_dir / "dashboard.png"
    page.screenshot(path=str(shot))
    blank = chromium.new_page()
    seen = blank.evaluate(COLOURS, base64.b64encode(shot.read_bytes()).decode())
    blank.close()
    assert (seen["width"], seen["height"]) == (VIEWPORT["width"], VIEWPORT["height"])
    assert seen["colours"] > 20, seen  # text, borders, bars: not a blank or one-colour page
    assert seen["top_share"] < 0.95, seen

    # The session's dashboard: exec'd as dashboard_command says (attached to the serve web
    # started, as no llamadash owned the servers), without the web token.
    (dashboard,) = sessions(web)
    api = f"http://127.0.0.1:{api_port}"
    assert dashboard.cmdline()[1:] == ["-m", "llamadash", "--models-conf", str(conf.resolve()),
                                       "attach", api]  # fmt: skip
    (owner,) = [c for c in psutil.Process(web.process.pid).children() if "serve" in c.cmdline()]
    environ = Path(f"/proc/{dashboard.pid}/environ").read_bytes().split(b"\0")
    assert b"TEXTUAL_DRIVER=textual.drivers.web_driver:WebDriver" in environ
    assert not any(item.startswith(b"LLAMADASH_WEB_TOKEN=") for item in environ)

    page.focus(".xterm-helper-textarea")  # where xterm.js takes the keyboard
    for key, profile_id, name, model in (
        ("1", "tiny", "Tiny random llama", "tiny.gguf"),
        ("2", "gemma", "Gemma 3 270M", "gemma-3-270m-Q4_K_M.gguf"),
    ):
        page.keyboard.press("m")
        picker = showing("Switch model", "Tiny random llama", "Gemma 3 270M")
        wait_for(picker, 20, "the picker", screen)
        page.keyboard.press(key)
        status = wait_for(ready_as(api_port, profile_id), 120, f"{profile_id} ready", screen)
        assert status["profile_name"] == name
        props = get_json(f"http://127.0.0.1:{server_port}/props")
        assert Path(props["model_path"]).name == model
        wait_for(showing(f"Ready: {name}"), 20, f"the header to say Ready: {name}", screen)
    page.screenshot(path=str(module_dir / "switched.png"))

    # A second page at the same time attaches to the same owner and sees the same switch.
    other = chromium.new_page(viewport=VIEWPORT)
    other.add_init_script(KEEP_TERMINAL)
    other.goto(web.url)
    wait_for(
        lambda: "Ready: Gemma 3 270M" in (seen := str(other.evaluate(READ_ROWS))) and seen,
        60,
        "the second page",
        lambda: str(other.evaluate(READ_ROWS)),
    )
    assert len(sessions(web)) == 2
    other.close()

    # Closing the pages ends their dashboards; the owner and llama-server run on.
    page.close()
    wait_for(lambda: not sessions(web), 30, "the sessions to end", lambda: str(sessions(web)))
    assert owner.is_running()
    health = urllib.request.urlopen(f"http://127.0.0.1:{server_port}/health", timeout=5)
    assert health.status == 200
