"""Verbs that change the server: switch and stop (forwarded to the owner's API if one runs)."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys

import httpx

from llamadash.commands.common import api_call, emit_json, engine_from, owner_api
from llamadash.core.context import Engine
from llamadash.core.envfile import EnvValueError, render_block
from llamadash.core.events import Result, State, SwitchEvent, SwitchOutcome
from llamadash.core.switcher import SwitchError

EXIT_BY_RESULT = {Result.READY: 0, Result.STOPPED: 0, Result.FAILED: 1, Result.SUPERSEDED: 3}


def switch(args: argparse.Namespace) -> int:
    """Switch to a profile and wait until it is ready or has failed."""
    engine = engine_from(args)
    query = args.profile or engine.settings.default_profile
    if not query:
        print(
            "error: name a profile (see `llamadash models`) or set default_profile", file=sys.stderr
        )
        return 2
    profile = engine.profiles.resolve(query)
    if args.dry_run:
        return _dry_run(engine, profile.id, args.json)
    return _change(engine, profile.id, args, restart=args.restart)


def stop(args: argparse.Namespace) -> int:
    """Stop llama-server."""
    return _change(engine_from(args), None, args, restart=False)


def _dry_run(engine: Engine, profile_id: str, as_json: bool) -> int:
    profile = engine.profiles.get(profile_id)
    assert profile is not None
    spec = engine.switcher.launch_spec(profile)
    command = engine.runtime.command(spec)
    env_values = getattr(engine.runtime, "env_values", None)
    try:
        env = env_values(spec) if env_values else {}
        block = render_block(env) if env else ""
    except EnvValueError as exc:
        print(
            f"error: profile {profile.id} cannot run on the {engine.runtime.name} runtime: {exc}"
            " (change it in models.conf, or use --runtime process)",
            file=sys.stderr,
        )
        return 2
    if as_json:
        emit_json(
            {
                "profile": profile.id,
                "runtime": engine.runtime.name,
                "args": list(command),
                "env": env,
                "model_present": spec.model_path.is_file(),
            }
        )
        return 0
    print(
        f"# profile {profile.id} ({profile.source}), runtime {engine.runtime.name}; nothing changed"
    )
    if block:
        print(f"# .env block that would be written to {engine.settings.project_dir / '.env'}:")
        print(block, end="")
    print("# llama-server command line:")
    print(shlex.join(["llama-server", *command]))
    if not spec.model_path.is_file():
        print(f"# warning: model file not found: {spec.model_path}", file=sys.stderr)
    return 0


def _change(engine: Engine, target: str | None, args: argparse.Namespace, restart: bool) -> int:
    api = owner_api(engine)
    if api is not None:
        return _via_owner(engine, api, target, args)
    engine.lock.acquire()
    try:
        outcome = asyncio.run(_run_locally(engine, target, restart, quiet=args.json))
    finally:
        engine.lock.release()
    return _report(outcome.to_dict(), outcome.result, args.json)


async def _run_locally(
    engine: Engine, target: str | None, restart: bool, quiet: bool
) -> SwitchOutcome:
    switcher = engine.switcher
    try:
        await switcher.adopt()
        # Subscribed after adopting: "ready: … (adopted a running server)" is what was
        # found, not what this command does (`llamadash stop` printed it before stopping).
        if not quiet:
            switcher.subscribe(_ProgressPrinter())
        try:
            return await switcher.request(target, restart=restart)
        except SwitchError as exc:
            return SwitchOutcome(Result.FAILED, target, str(exc))
    finally:
        await switcher.aclose()


class _ProgressPrinter:
    """Prints state changes (and load stages, once each) to stderr."""

    def __init__(self) -> None:
        self.last = ""

    def __call__(self, event: SwitchEvent) -> None:
        text = {
            State.STOPPING: "stopping…",
            State.STARTING: f"starting {event.profile_name}…",
            State.LOADING: f"loading {event.profile_name}: "
            + (event.progress.stage if event.progress else ""),
            State.READY: f"ready: {event.profile_name} ({event.message})",
            State.FAILED: f"failed: {event.error}",
            State.IDLE: "stopped",
        }[event.state]
        if text != self.last:
            self.last = text
            print(text, file=sys.stderr, flush=True)


def _via_owner(engine: Engine, api: str, target: str | None, args: argparse.Namespace) -> int:
    if not api:
        owner = engine.lock.owner() or {}
        print(
            f"error: another llamadash (PID {owner.get('pid', '?')}) is changing the server and"
            " has no API; wait for it to finish",
            file=sys.stderr,
        )
        return 4
    if not args.json:
        print(f"(forwarding to the running llamadash at {api})", file=sys.stderr)
    path, body = (
        ("/switch", {"model": target, "restart": args.restart}) if target else ("/stop", {})
    )
    try:
        reply = api_call(engine, "POST", f"{api}{path}", json=body, timeout=None)
        data = reply.json()
    except (httpx.HTTPError, ValueError) as exc:
        print(f"error: the running llamadash at {api} did not answer: {exc}", file=sys.stderr)
        return 4
    outcome = data.get("outcome", data) if isinstance(data, dict) else {}
    result = Result(outcome.get("result", "failed")) if isinstance(outcome, dict) else Result.FAILED
    return _report(data, result, args.json)


def _report(data: dict[str, object], result: Result, as_json: bool) -> int:
    if as_json:
        emit_json(data)
    elif result == Result.FAILED:
        print(f"switch failed: {data.get('message')}", file=sys.stderr)
        tail = data.get("log_tail") or []
        if tail:
            print("--- last server log lines ---", file=sys.stderr)
            for line in tail:  # type: ignore[attr-defined]
                print(line, file=sys.stderr)
    elif result == Result.SUPERSEDED:
        print(f"superseded: {data.get('message')}", file=sys.stderr)
    else:
        print(data.get("message"))
    return EXIT_BY_RESULT[result]
