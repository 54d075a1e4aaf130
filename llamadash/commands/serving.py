"""The long-running verbs: the dashboard (no verb) and ``serve`` (the API without the TUI)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from typing import Any

from llamadash.commands.common import engine_from
from llamadash.commands.invocation import again
from llamadash.core.context import Engine


def dashboard(args: argparse.Namespace) -> int:
    """Run the full-screen dashboard (with the side API unless --no-api).

    When another llamadash already owns the servers and serves its API, attach to it.
    """
    from llamadash.commands.owner import find_owner, read_config_lenient

    _, settings, _ = read_config_lenient(args)
    owner = find_owner(settings)
    if owner is not None and owner.api:
        from llamadash.commands.attach import run_attached

        print(f"attaching to the running llamadash at {owner.api}", file=sys.stderr)
        return run_attached(owner.api, settings.api_token)
    from llamadash.api.server import ApiBindError, ApiServer
    from llamadash.collectors.bundle import collectors_for
    from llamadash.ui.app import build_app

    engine = engine_from(args, api_port=args.api_port)
    stop = again("stop", models_conf=args.models_conf, runtime=args.runtime)
    api = None
    if not args.no_api:
        try:
            api = ApiServer(
                engine.switcher,
                pool=engine.pool,
                idle=engine.idle,
                router=engine.router,
                dashboards=feed_for(engine, stop),
            )
        except ApiBindError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    engine.lock.acquire(api.url if api else "")
    try:
        app = build_app(engine, collectors=collectors_for(engine), api=api, stop_command=stop)
        app.call_later(settle_when_drawn, app)
        app.run()
    finally:
        engine.lock.release()
    if app.quit_message:
        print(app.quit_message)
    return app.return_code or 0


def serve(args: argparse.Namespace) -> int:
    """Serve the side API headless until Ctrl-C / SIGTERM; the server keeps running after."""
    from llamadash.api.server import ApiBindError, ApiServer

    overrides = {"api_host": args.host, "api_port": args.port, "api_token": args.token}
    engine = engine_from(args, **overrides)
    try:
        url = ApiServer(engine.switcher).url  # validates the bind rule before taking the lock
    except ApiBindError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    engine.lock.acquire(url)
    try:
        stop = again("stop", models_conf=args.models_conf, runtime=args.runtime)
        return asyncio.run(_serve(engine, args.switch, stop))
    finally:
        engine.lock.release()


def feed_for(engine: Engine, stop_command: str) -> Any:
    """What ``GET /dashboard`` streams: the engine's collectors, made when one attaches."""
    from llamadash.api.dashboard import DashboardFeed
    from llamadash.collectors.bundle import collectors_for

    return DashboardFeed(lambda: collectors_for(engine), stop_command)


async def _serve(engine: Engine, switch_to: str | None, stop_command: str) -> int:
    from llamadash.api.server import ApiBindError, serve_headless

    def listening(url: str) -> None:
        print(
            f"llamadash API listening on {url} (server {engine.switcher.endpoint};"
            f" OpenAI-compatible endpoint {url}/v1); Ctrl-C stops the API, not llama-server",
            file=sys.stderr,
            flush=True,
        )

    engine.watch.start()  # models.conf edits apply while it serves
    engine.idle.start()  # activity, ttl and eviction order of every instance
    try:
        await serve_headless(
            engine.switcher,
            pool=engine.pool,
            idle=engine.idle,
            router=engine.router,
            switch_to=switch_to,
            on_listening=_then_settle(listening),
            dashboards=feed_for(engine, stop_command),
        )
    except ApiBindError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        await engine.idle.aclose()
        await engine.watch.aclose()
        await engine.pool.aclose()  # every server keeps running
    return 0


def settle_when_drawn(app: Any) -> None:
    """Exempt the dashboard's startup objects from GC scans once it has drawn (core.heap)."""
    from llamadash.core.heap import settle

    app.call_after_refresh(settle)


def _then_settle(listening: Callable[[str], None]) -> Callable[[str], None]:
    """``listening``, then exempt startup objects from GC scans (core.heap)."""
    from llamadash.core.heap import settle

    def announce(url: str) -> None:
        listening(url)
        settle()

    return announce
