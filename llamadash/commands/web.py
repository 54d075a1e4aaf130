"""``llamadash web``: the dashboard in a browser (llamadash/web/); off loopback, a token."""

from __future__ import annotations

import argparse
import asyncio
import sys

from llamadash.commands.common import fail
from llamadash.core.net import is_loopback
from llamadash.core.profiles import load_profiles
from llamadash.core.settings import load_settings

EXIT_USAGE = 2
MAX_PORT = 65535


def web(args: argparse.Namespace) -> int:
    """Serve the dashboard to browsers until Ctrl-C / SIGTERM; llama-server keeps running."""
    # textual-serve and aiohttp are imported only here, never on the CLI's other paths.
    from llamadash.web.server import WebBindError, WebServer
    from llamadash.web.session import dashboard_command

    overrides = {
        "runtime": args.runtime,
        "web_host": args.host,
        "web_port": args.port,
        "web_token": args.token,
    }
    settings = load_settings(load_profiles(args.models_conf), overrides=overrides)
    host, token = settings.web_host, settings.web_token
    if not 0 <= settings.web_port <= MAX_PORT:
        return fail(f"error: web_port: want 0-{MAX_PORT}, got {settings.web_port}", EXIT_USAGE)
    if not is_loopback(host) and not token:
        return fail(
            f"error: refusing to serve the dashboard on {host} without a token (anyone who"
            " reaches it could switch and stop models): pass --token, set"
            " $LLAMADASH_WEB_TOKEN or web_token in models.conf, or keep --host 127.0.0.1",
            EXIT_USAGE,
        )
    argv = dashboard_command(
        args.models_conf, runtime=args.runtime, api_port=args.api_port, no_api=args.no_api
    )
    server = WebServer(argv, host=host, port=settings.web_port, token=token)

    def listening(url: str) -> None:
        print(
            f"llamadash web: open {url} (each page runs its own dashboard;"
            " Ctrl-C stops serving, not llama-server)",
            file=sys.stderr,
            flush=True,
        )

    try:
        asyncio.run(server.run_until_stopped(listening))
    except WebBindError as exc:
        return fail(f"error: {exc}", EXIT_USAGE)
    return 0
