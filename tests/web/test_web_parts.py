"""``llamadash web``'s pure parts: the session's argv and environment, the verb's parser."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from llamadash.cli import parse_args
from llamadash.web.session import WEB_DRIVER, dashboard_command, session_env


def test_a_session_runs_a_dashboard_attached_to_the_owner_from_an_argv_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = dashboard_command(Path("my models.conf"), "http://127.0.0.1:9001", runtime="process")
    assert argv == [
        sys.executable, "-m", "llamadash", "--models-conf", str(tmp_path / "my models.conf"),
        "--runtime", "process", "attach", "http://127.0.0.1:9001",
    ]  # fmt: skip


def test_the_session_draws_with_textuals_web_driver_at_the_pages_size() -> None:
    env = session_env(132, 41, {"PATH": "/bin", "LLAMADASH_WEB_TOKEN": "t", "SECRET": "s"})
    assert env["TEXTUAL_DRIVER"] == WEB_DRIVER
    assert (env["COLUMNS"], env["ROWS"]) == ("132", "41")
    assert env["PATH"] == "/bin"
    assert "LLAMADASH_WEB_TOKEN" not in env
    assert "SECRET" not in env


def test_the_web_verbs_options() -> None:
    args = parse_args(["web", "--host", "0.0.0.0", "--port", "9000", "--token", "t"])
    assert (args.verb, args.host, args.port, args.token) == ("web", "0.0.0.0", 9000, "t")
    args = parse_args(["web"])
    assert (args.host, args.port, args.token) == (None, None, None)  # Settings decide


def test_the_parser_and_the_verb_module_import_no_web_server_until_it_runs() -> None:
    """textual-serve and aiohttp (~0.2 s) are imported inside the web verb only."""
    code = (
        "import sys, llamadash.cli, llamadash.commands.web; "
        "llamadash.cli.parse_args(['web']); "
        "sys.exit(1 if {'aiohttp', 'textual_serve', 'textual'} & set(sys.modules) else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-500:]


def test_the_web_server_itself_never_loads_textual() -> None:
    """Textual runs in each session's child; the listener stays small."""
    code = (
        "import sys, llamadash.web.server; "
        "sys.exit(1 if any(m.split('.')[0] == 'textual' for m in sys.modules) else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-500:]


def test_the_url_printed_quotes_the_token() -> None:
    from llamadash.web.server import WebServer

    server = WebServer(["true"], host="::1", port=8090, token="a&b c#")
    assert server.url() == "http://[::1]:8090/?token=a%26b%20c%23"
    assert server.url(with_token=False) == "http://[::1]:8090/"
