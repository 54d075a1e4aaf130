"""The pool's verbs: ``ps``, ``start``, ``restart``, and ``stop`` of one or every instance.

Forwarded to the owner's API when a llamadash owns the servers (the light path of
:mod:`llamadash.commands.owner`: one request per instance, no engine, httpx or asyncio); else
run here through the same Pool (:mod:`llamadash.commands.pool_local`): the servers keep running
after the command exits, and a later llamadash adopts them from the pool record.

Each change is reported as one item per instance, the same from either path::

    {"profile": id, "result": ready|stopped|failed|superseded|refused, "message": ...,
     "endpoint": url|None, "restarted": bool, "seconds": float, "log_tail": [...]}
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from urllib.parse import quote

from llamadash.commands.common import emit_json, engine_from
from llamadash.commands.owner import (
    Owner,
    OwnerUnreachableError,
    find_owner,
    read_config,
    read_config_lenient,
)

TYPE_CHECKING = False  # as typing's, without importing typing: see commands/owner.py
if TYPE_CHECKING:
    from typing import Any

    from llamadash.core.profiles import ProfileSet
    from llamadash.core.settings import Settings

    Item = dict[str, Any]

EXIT_FAILED, EXIT_USAGE, EXIT_SUPERSEDED, EXIT_UNAVAILABLE = 1, 2, 3, 4
EXIT_BY_ITEM = {"ready": 0, "stopped": 0, "failed": 1, "refused": 1, "superseded": 3}
ALL = "all"
WATCH_SECONDS = 1.0
CLEAR = "\x1b[H\x1b[2J"


def item(profile: str | None, result: str, message: str, **more: Any) -> Item:
    """One instance's outcome as the verbs print it."""
    return {
        "profile": profile,
        "result": result,
        "message": message,
        "endpoint": more.get("endpoint"),
        "restarted": bool(more.get("restarted", False)),
        "seconds": float(more.get("seconds") or 0.0),
        "log_tail": list(more.get("log_tail") or ()),
    }


def not_running(target: str | None, running: Sequence[object]) -> Item:
    """``stop X`` when nothing runs X: nothing to do, and what runs instead."""
    shown = ", ".join(str(r) for r in running) or "nothing"
    return item(target, "stopped", f"not running (running: {shown})")


# --- ps ------------------------------------------------------------------------------------
def ps(args: argparse.Namespace) -> int:
    """Every instance; ``--watch``: again every second until Ctrl-C."""
    _profiles, settings, _error = read_config_lenient(args)
    owner = find_owner(settings)
    try:
        if owner is not None and owner.api:
            return _ps_forwarded(owner, args)
        from llamadash.commands.pool_local import watch_instances

        watch_instances(lambda: engine_from(args, lenient=True), _shower(args), args.watch)
    except KeyboardInterrupt:  # the way out of --watch: no traceback, no "interrupted"
        print(file=sys.stderr)
    return 0


def _ps_forwarded(owner: Owner, args: argparse.Namespace) -> int:
    show = _shower(args)
    while True:
        began = time.monotonic()
        try:
            code, data = owner.call("GET", "/instances", timeout=10)
        except OwnerUnreachableError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_UNAVAILABLE
        if code != 200 or not isinstance(data, dict):
            return _refused_by(owner, code, data)
        show(data.get("instances") or [], data.get("hosts") or [])
        if not args.watch:
            return 0
        time.sleep(max(0.0, WATCH_SECONDS - (time.monotonic() - began)))


def _shower(args: argparse.Namespace) -> Any:
    """What prints one look: a table (redrawn in place with --watch on a terminal), or JSON."""
    tty = sys.stdout.isatty()

    def show(rows: Sequence[dict[str, Any]], hosts: Sequence[dict[str, Any]]) -> None:
        if args.json:
            look = {"instances": list(rows), "hosts": list(hosts)}
            if args.watch:  # one JSON document per line and look
                print(json.dumps(look, default=str), flush=True)
            else:
                emit_json(look)
            return
        from llamadash.commands.ps_table import table  # not for --json: it loads core.memory

        text = table(rows, hosts)
        if args.watch:
            stamp = time.strftime("%H:%M:%S")
            text = f"{stamp}  every {WATCH_SECONDS:g} s, Ctrl-C to quit\n\n{text}"
            if tty:
                text = CLEAR + text
            else:
                text += "\n"
        print(text, flush=True)

    return show


# --- start / restart / stop ----------------------------------------------------------------
def start(args: argparse.Namespace) -> int:
    """Start a profile (or every production profile) alongside what runs, and wait."""
    profiles, settings = read_config(args)
    targets = _targets(profiles, args.profile)
    return _change(args, settings, "start", targets)


def restart(args: argparse.Namespace) -> int:
    """Restart a profile where it runs (starting it if it does not), or every running one."""
    profiles, settings = read_config(args)
    targets = None if args.profile == ALL else _targets(profiles, args.profile)
    return _change(args, settings, "restart", targets)


def stop_instances(args: argparse.Namespace, profile: str) -> int:
    """``stop <profile>`` (the instance running it) or ``stop all`` (every instance)."""
    profiles, settings, _error = read_config_lenient(args)
    targets = None if profile == ALL else [_resolve_running(profiles, profile)]
    return _change(args, settings, "stop", targets)


def _targets(profiles: ProfileSet, query: str) -> list[str]:
    """``all``: every production profile, in models.conf order; else the one ``query`` names.

    Raises:
        UnknownProfileError: nothing matches (exit 2, with near matches).
    """
    if query == ALL:
        return [p.id for p in profiles.production]
    return [profiles.resolve(query).id]


def _resolve_running(profiles: ProfileSet, query: str) -> str:
    """The profile id ``query`` names; an exact id is taken as it is.

    models.conf may be broken or may no longer have it: its server still runs and can be
    stopped.
    """
    if profiles.get(query) is not None or not profiles.profiles:
        return query
    return profiles.resolve(query).id


def _change(
    args: argparse.Namespace, settings: Settings, verb: str, targets: list[str] | None
) -> int:
    """Run ``verb`` on each target (None: every running instance), forwarded or here."""
    owner = find_owner(settings)
    if owner is None:
        from llamadash.commands.pool_local import run_pool

        items = run_pool(engine_from(args, lenient=verb == "stop"), verb, targets, args.json)
    elif not owner.api:
        print(
            f"error: another llamadash (PID {owner.pid}) drives the servers and has no API;"
            " wait for it to finish",
            file=sys.stderr,
        )
        return EXIT_UNAVAILABLE
    else:
        if not args.json:
            print(f"(forwarding to the running llamadash at {owner.api})", file=sys.stderr)
        try:
            items = _forward(owner, verb, targets)
        except OwnerUnreachableError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_UNAVAILABLE
    return report(items, args.json)


def _forward(owner: Owner, verb: str, targets: list[str] | None) -> list[Item]:
    if verb == "stop" and targets is None:
        code, data = owner.call("DELETE", "/instances", timeout=None)
        outcomes = data.get("outcomes") if isinstance(data, dict) else None
        if code != 200 or not isinstance(outcomes, list):
            return [_from_answer(None, code, data)]
        return [_from_outcome(o, None) for o in outcomes if isinstance(o, dict)]
    if targets is None:  # restart all: what runs now
        code, data = owner.call("GET", "/instances", timeout=10)
        rows = data.get("instances") if isinstance(data, dict) else None
        if code != 200 or not isinstance(rows, list):
            return [_from_answer(None, code, data)]
        targets = [str(r["id"]) for r in rows if isinstance(r, dict) and r.get("id")]
    items = []
    for target in targets:
        if verb == "stop":
            code, data = owner.call("DELETE", f"/instances/{quote(target, safe='')}", timeout=None)
        else:
            body = {"model": target, "exact": True, "restart": verb == "restart"}
            code, data = owner.call("POST", "/instances", body, timeout=None)
        items.append(_from_answer(target, code, data))
    return items


def _from_answer(target: str | None, code: int, data: Any) -> Item:
    """An item from the owner's answer to one request."""
    if not isinstance(data, dict):
        return item(target, "failed", f"unexpected answer ({code}): {data!r}")
    if code == 404 and data.get("error") == "not_running":
        return not_running(target, data.get("running") or [])
    outcome = data.get("outcome")
    if not isinstance(outcome, dict):  # an Error: refused, unknown, timeout, unavailable
        kind = "refused" if code == 409 else "failed"
        return item(target, kind, str(data.get("message") or data))
    found = data.get("instance")
    endpoint = found.get("endpoint") if isinstance(found, dict) else None
    return _from_outcome(outcome, target, endpoint, data.get("log_tail"))


def _from_outcome(
    outcome: dict[str, Any], target: str | None, endpoint: Any = None, log_tail: Any = None
) -> Item:
    result = str(outcome.get("result"))
    return item(
        target or outcome.get("profile_id"),
        result if result in EXIT_BY_ITEM else "failed",
        str(outcome.get("message", "")),
        endpoint=endpoint,
        restarted=outcome.get("restarted"),
        seconds=outcome.get("seconds"),
        log_tail=log_tail or outcome.get("log_tail"),
    )


def report(items: list[Item], as_json: bool) -> int:
    """Print each item (JSON: a list); the exit code of the worst."""
    if as_json:
        emit_json(items)
    for entry in [] if as_json else items:
        name, message = entry["profile"] or "foreground", entry["message"]
        if entry["result"] == "ready":
            seconds = entry["seconds"]
            took = f" in {seconds:.{2 if seconds < 1 else 1}f} s" if entry["restarted"] else ""
            state = "ready" if entry["restarted"] else "already running"
            print(f"{name}: {state} on {entry['endpoint'] or '?'}{took}")
        elif entry["result"] == "stopped":
            print(f"{name}: {message}")
        elif entry["result"] == "refused":
            print(f"error: {message}", file=sys.stderr)
        else:
            print(f"{name}: {entry['result']}: {message}", file=sys.stderr)
            if entry["log_tail"]:
                print("--- last server log lines ---", file=sys.stderr)
                for line in entry["log_tail"]:
                    print(line, file=sys.stderr)
    if not items:
        if not as_json:
            print("nothing runs")
        return 0
    return max(EXIT_BY_ITEM.get(str(entry["result"]), EXIT_FAILED) for entry in items)


def _refused_by(owner: Owner, code: int, data: Any) -> int:
    message = data.get("message") if isinstance(data, dict) else None
    print(
        f"error: the running llamadash at {owner.api} answered {code}: {message or data}",
        file=sys.stderr,
    )
    return EXIT_UNAVAILABLE
