"""``llamadash web``: the dashboard in a browser (llamadash/web/); off loopback, a token.

Every page runs a dashboard attached to one owner: the llamadash that already owns the
servers, or a ``llamadash serve`` started here for as long as ``web`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

from llamadash.commands.common import fail
from llamadash.commands.owner import Owner, OwnerUnreachableError, find_owner
from llamadash.core.net import is_loopback
from llamadash.core.profiles import load_profiles
from llamadash.core.settings import Settings, load_settings

EXIT_USAGE, EXIT_UNAVAILABLE = 2, 4
MAX_PORT = 65535
OWNER_START_SECONDS = 60.0


class OwnerStartError(Exception):
    """The ``serve`` started for the pages did not come up (the message has its log's tail)."""


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
        "api_port": args.api_port,
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
    if args.no_api:
        return fail("error: the pages attach through the side API: drop --no-api", EXIT_USAGE)
    owner = find_owner(settings)
    if owner is not None and not owner.api:
        return fail(
            f"error: another llamadash (PID {owner.pid}) drives the servers without its API"
            " (--no-api), so no page could attach: quit it, or start it with its API",
            EXIT_UNAVAILABLE,
        )
    started = None
    try:
        if owner is None:
            started, api = start_owner(args.models_conf, args.runtime, settings)
        else:
            api = owner.api
    except OwnerStartError as exc:
        return fail(f"error: {exc}", EXIT_UNAVAILABLE)
    argv = dashboard_command(args.models_conf, api, runtime=args.runtime)
    server = WebServer(argv, host=host, port=settings.web_port, token=token)

    def listening(url: str) -> None:
        ran = f"started llamadash serve (PID {started.pid})" if started else "the running"
        print(
            f"llamadash web: open {url} (every page attaches to {ran} llamadash at {api};"
            " Ctrl-C stops serving, not llama-server)",
            file=sys.stderr,
            flush=True,
        )

    try:
        asyncio.run(server.run_until_stopped(listening))
    except WebBindError as exc:
        return fail(f"error: {exc}", EXIT_USAGE)
    finally:
        if started is not None:  # the servers it drove run on; the next llamadash adopts them
            started.terminate()
            started.wait(30)
    return 0


def start_owner(
    models_conf: Path, runtime: str | None, settings: Settings
) -> tuple[subprocess.Popen[bytes], str]:
    """``llamadash serve`` for the pages to attach to; returns it once its lock names its API.

    Its output goes to ``<state_dir>/web-serve.log``.

    Raises:
        OwnerStartError: it exited or did not listen within OWNER_START_SECONDS.
    """
    from llamadash.core.runtime.environ import dashboard_env
    from llamadash.web.session import llamadash_command

    argv = llamadash_command(models_conf, runtime, "serve", "--port", str(settings.api_port))
    log = settings.state_dir / "web-serve.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=dashboard_env(), start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + OWNER_START_SECONDS
    while time.monotonic() < deadline:
        owner = find_owner(settings)
        if owner is not None and owner.api and _answers(owner):
            return process, owner.api
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.terminate()
    process.wait(30)
    tail = " | ".join(log.read_text(errors="replace").splitlines()[-5:])
    raise OwnerStartError(f"llamadash serve for the pages did not start ({log}): {tail}")


def _answers(owner: Owner) -> bool:
    """The owner's API answers GET /healthz (it takes the lock before it listens)."""
    try:
        return owner.call("GET", "/healthz", timeout=2)[0] == 200
    except OwnerUnreachableError:
        return False
