"""Make one profile's server ready, for the verbs that then talk to it (``run``, ``bench``).

Through the owner's API when a llamadash owns the servers (its load progress followed on
``GET /events``), else here through the same Pool ``llamadash switch`` uses: a profile that
already runs in some instance is used where it is; otherwise it replaces the foreground
server, as ``switch`` does. Run here, the server keeps running after the command exits (like
``llamadash switch``); ``llamadash stop`` ends it.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from dataclasses import dataclass

from llamadash.commands.common import engine_from
from llamadash.commands.owner import EXIT_BY_RESULT, Owner, OwnerUnreachableError, find_owner
from llamadash.core.http_stream import LoopbackHttpError, Stream, open_stream
from llamadash.core.settings import Settings

EXIT_FAILED, EXIT_UNAVAILABLE = 1, 4


class NotReadyError(Exception):
    """The profile could not be made ready: the message, the exit code, the server's last lines."""

    def __init__(self, message: str, code: int, log_tail: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.log_tail = log_tail or []

    def show(self) -> int:
        """Print it (and the log tail) to stderr; its exit code."""
        print(f"error: {self}", file=sys.stderr)
        if self.log_tail:
            print("--- last server log lines ---", file=sys.stderr)
            for line in self.log_tail:
                print(line, file=sys.stderr)
        return self.code


@dataclass(frozen=True)
class Running:
    """A ready server of one profile."""

    profile_id: str
    endpoint: str
    seconds: float
    """How long its start took (0 when it was running already)."""
    restarted: bool
    owner: str
    """The owner's API URL when it went through one; '' when run here."""
    binary: str = ""
    """The llama-server binary it runs, when known (started here by the process runtime)."""


def bring_up(
    args: argparse.Namespace, settings: Settings, profile_id: str, *, restart: bool, quiet: bool
) -> Running:
    """Make ``profile_id`` ready (``restart``: start it afresh even if it runs).

    Raises:
        NotReadyError: it failed, was superseded or refused, or nothing can run it.
    """
    owner = find_owner(settings)
    if owner is not None:
        return _via_owner(owner, profile_id, restart, quiet)
    from llamadash.commands.bring_up_local import start_here

    return start_here(engine_from(args), profile_id, restart=restart, quiet=quiet)


def _via_owner(owner: Owner, profile_id: str, restart: bool, quiet: bool) -> Running:
    if not owner.api:
        raise NotReadyError(
            f"another llamadash (PID {owner.pid}) drives the servers and has no API;"
            " wait for it to finish",
            EXIT_UNAVAILABLE,
        )
    try:
        if not restart and (endpoint := _ready_endpoint(owner, profile_id)):
            return Running(profile_id, endpoint, 0.0, False, owner.api)
        if not quiet:
            print(f"(through the running llamadash at {owner.api})", file=sys.stderr)
        follower = None if quiet else EventPrinter(owner)
        try:
            body = {"model": profile_id, "exact": True, "restart": restart}
            code, data = owner.call("POST", "/switch", body, timeout=None)  # answers when done
        finally:
            if follower is not None:
                follower.stop()
    except OwnerUnreachableError as exc:
        raise NotReadyError(str(exc), EXIT_UNAVAILABLE) from None
    outcome = data.get("outcome") if isinstance(data, dict) else None
    if not isinstance(outcome, dict) or outcome.get("result") != "ready":
        result = outcome.get("result") if isinstance(outcome, dict) else None
        message = data.get("message") if isinstance(data, dict) else data
        raise NotReadyError(
            f"{profile_id}: {result or f'answer {code}'}: {message}",
            EXIT_BY_RESULT.get(str(result), EXIT_FAILED),
            list(data.get("log_tail") or []) if isinstance(data, dict) else [],
        )
    status = data.get("status") or {}
    return Running(
        profile_id,
        str(status.get("endpoint") or ""),
        float(outcome.get("seconds") or 0.0),
        bool(outcome.get("restarted")),
        owner.api,
    )


def _ready_endpoint(owner: Owner, profile_id: str) -> str:
    """The endpoint of the owner's instance running ``profile_id`` and ready, else ''."""
    code, data = owner.call("GET", "/instances", timeout=10)
    rows = data.get("instances") if code == 200 and isinstance(data, dict) else None
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and row.get("id") == profile_id and row.get("state") == "ready":
            return str(row.get("endpoint") or "")
    return ""


class EventPrinter:
    """Prints the owner's state changes and load stages (``GET /events``) while it switches.

    A daemon thread reads the stream; ``stop`` waits a moment for the switch's last event
    (it can arrive just after the switch's answer), then hangs up, which ends the read.
    """

    SETTLE_SECONDS = 1.0

    def __init__(self, owner: Owner) -> None:
        headers = {"Accept": "text/event-stream"}
        if owner.token:
            headers["Authorization"] = f"Bearer {owner.token}"
        self._stream: Stream | None = None
        self._last = ""
        self._settled = threading.Event()
        try:
            self._stream = open_stream(owner.api, "GET", "/events", headers=headers)
        except LoopbackHttpError:
            return  # no progress to show; the switch itself still answers
        threading.Thread(target=self._follow, name="owner-events", daemon=True).start()

    def _follow(self) -> None:
        assert self._stream is not None
        try:
            for data in self._stream.events():
                self._show(data)
        except (LoopbackHttpError, OSError, ValueError):
            pass  # hung up by stop(), or the owner went away
        self._settled.set()

    def _show(self, data: str) -> None:
        event = json.loads(data)
        if not isinstance(event, dict) or "state" not in event or not event.get("foreground"):
            return  # the first status snapshot, or an instance beside the foreground one
        name, state = event.get("profile_name") or event.get("profile_id"), event["state"]
        progress = event.get("progress") or {}
        text = {
            "stopping": "stopping…",
            "starting": f"starting {name}…",
            "loading": f"loading {name}: {progress.get('stage', '')}",
            "ready": f"ready: {name} ({event.get('message', '')})",
            "failed": f"failed: {event.get('error')}",
        }.get(str(state), "")
        if text and text != self._last:
            self._last = text
            print(text, file=sys.stderr, flush=True)
        if state in ("ready", "failed"):
            self._settled.set()

    def stop(self) -> None:
        """Hang up on the event stream."""
        if self._stream is not None:
            self._settled.wait(self.SETTLE_SECONDS)
            self._stream.close()
