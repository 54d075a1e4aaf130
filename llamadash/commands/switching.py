"""Verbs that change the server: switch and stop (forwarded to the owner's API if one runs).

Forwarding is the light path (:mod:`llamadash.commands.owner`); only a switch this process
runs itself imports the engine (:mod:`llamadash.commands.local`).
"""

from __future__ import annotations

import argparse
import sys

from llamadash.commands.common import emit_json, engine_from
from llamadash.commands.owner import (
    EXIT_BY_RESULT,
    Owner,
    OwnerUnreachableError,
    change_request,
    find_owner,
    read_config,
    read_config_lenient,
)

TYPE_CHECKING = False  # as typing's, without importing typing: see commands/owner.py
if TYPE_CHECKING:
    from typing import Any

    from llamadash.core.settings import Settings

EXIT_USAGE, EXIT_UNAVAILABLE = 2, 4


def switch(args: argparse.Namespace) -> int:
    """Switch to a profile and wait until it is ready or has failed."""
    profiles, settings = read_config(args)
    query = args.profile or settings.default_profile
    if not query:
        print(
            "error: name a profile (see `llamadash models`) or set default_profile", file=sys.stderr
        )
        return EXIT_USAGE
    profile = profiles.resolve(query)
    if args.dry_run:
        from llamadash.commands.local import dry_run

        return dry_run(engine_from(args), profile.id, args.json)
    return _change(args, settings, profile.id, restart=args.restart)


def stop(args: argparse.Namespace) -> int:
    """Stop llama-server (a broken models.conf does not stand in the way).

    No argument: the foreground instance, as before the pool; ``<profile>`` or ``all``: the
    instance running it, or every instance (:mod:`llamadash.commands.instances`).
    """
    if args.profile is not None:
        from llamadash.commands.instances import stop_instances

        return stop_instances(args, args.profile)
    _profiles, settings, _error = read_config_lenient(args)
    return _change(args, settings, None, restart=False)


def _change(args: argparse.Namespace, settings: Settings, target: str | None, restart: bool) -> int:
    owner = find_owner(settings)
    if owner is not None:
        return _via_owner(owner, change_request(target, restart), args.json)
    from llamadash.commands.local import run_locally

    engine = engine_from(args, lenient=target is None)
    data, result = run_locally(engine, target, restart, quiet=args.json)
    return report(data, result, args.json)


def _via_owner(owner: Owner, ask: tuple[str, dict[str, Any]], as_json: bool) -> int:
    if not owner.api:
        print(
            f"error: another llamadash (PID {owner.pid}) is changing the server and"
            " has no API; wait for it to finish",
            file=sys.stderr,
        )
        return EXIT_UNAVAILABLE
    if not as_json:
        print(f"(forwarding to the running llamadash at {owner.api})", file=sys.stderr)
    try:
        _code, data = owner.call("POST", *ask, timeout=None)  # answers once it is done
    except OwnerUnreachableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if not isinstance(data, dict):
        data = {"message": f"unexpected answer: {data!r}"}
    outcome = data.get("outcome", data)
    result = outcome.get("result") if isinstance(outcome, dict) else None
    return report(data, str(result) if result in EXIT_BY_RESULT else "failed", as_json)


def report(data: dict[str, Any], result: str, as_json: bool) -> int:
    """Print an outcome (``result`` is a core.events.Result value); its exit code."""
    if as_json:
        emit_json(data)
    elif result == "failed":
        print(f"switch failed: {data.get('message')}", file=sys.stderr)
        tail = data.get("log_tail") or []
        if tail:
            print("--- last server log lines ---", file=sys.stderr)
            for line in tail:
                print(line, file=sys.stderr)
    elif result == "superseded":
        print(f"superseded: {data.get('message')}", file=sys.stderr)
    else:
        print(data.get("message"))
    return EXIT_BY_RESULT[result]
