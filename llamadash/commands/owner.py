"""The llamadash that owns the server (a dashboard or ``serve``), and requests forwarded to it.

This is the CLI's fast path: it reads models.conf and the owner lock, then sends one request
with the blocking client of :mod:`llamadash.core.http1`. It must stay light: no httpx, asyncio,
Docker, psutil, Starlette or Textual (tests/e2e/test_cli_verbs.py checks what loads).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

from llamadash.core.http1 import LoopbackHttpError, request
from llamadash.core.inifile import ConfigError
from llamadash.core.profiles import ProfileSet, load_profiles
from llamadash.core.settings import Settings, load_settings
from llamadash.core.statefile import OwnerLock

# The light path keeps typing unimported (about 5 ms of a forwarded verb's 50 over the bare
# interpreter): mypy reads any name TYPE_CHECKING as true, Python sees False.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Exit code per SwitchOutcome result (the values of core.events.Result, which this module
# does not import: its statistics imports cost the fast path 20 ms).
EXIT_BY_RESULT = {"ready": 0, "stopped": 0, "failed": 1, "superseded": 3}
# A wildcard bind is reached on loopback.
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


class OwnerUnreachableError(Exception):
    """The owner's API did not give a JSON answer."""


@dataclass(frozen=True)
class Owner:
    """Who holds the owner lock: its PID and API base URL (empty: it runs no API)."""

    pid: object
    api: str
    token: str

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float | None = 30
    ) -> tuple[int, Any]:
        """One request to the owner's API: the status code and the decoded JSON answer.

        Raises:
            OwnerUnreachableError: refused, timed out, or not JSON.
        """
        host, port = owner_address(self.api)
        headers = {"Accept": "application/json", "User-Agent": "llamadash-cli"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = b""
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            reply = request(host, port, method, path, body=data, headers=headers, timeout=timeout)
            return reply.status, json.loads(reply.body)
        except (LoopbackHttpError, ValueError) as exc:
            raise OwnerUnreachableError(
                f"the running llamadash at {self.api} did not answer: {exc}"
            ) from None


def read_config(args: argparse.Namespace) -> tuple[ProfileSet, Settings]:
    """models.conf and the settings as the flags change them (what ``engine_from`` also uses).

    Raises:
        ConfigError: models.conf or a setting is wrong.
    """
    profiles = load_profiles(args.models_conf)
    return profiles, load_settings(profiles, overrides={"runtime": args.runtime})


def read_config_lenient(args: argparse.Namespace) -> tuple[ProfileSet, Settings, str | None]:
    """``read_config``, but a broken models.conf is no error: its message is returned.

    The settings then come from the lines before the bad one (core/reload.py), so status,
    logs and stop still reach the right server.
    """
    try:
        profiles, settings = read_config(args)
    except ConfigError:
        from llamadash.core.reload import load_lenient  # only when broken: it imports asyncio

        overrides = {"runtime": args.runtime}
        profiles, error = load_lenient(args.models_conf, overrides)
        return profiles, load_settings(profiles, overrides=overrides), error
    return profiles, settings, None


def find_owner(settings: Settings) -> Owner | None:
    """The other llamadash holding this project's lock, if one runs."""
    record = OwnerLock.for_project(settings.state_dir, settings.project_name).held_by_other()
    if record is None:
        return None
    return Owner(record.get("pid", "?"), str(record.get("api") or ""), settings.api_token)


def change_request(target: str | None, restart: bool) -> tuple[str, dict[str, Any]]:
    """The path and body that ask the owner to switch to profile id ``target`` (None: stop)."""
    if target is None:
        return "/stop", {}
    # The id this command resolved from models.conf as it is now: the owner takes it as it is
    # (reading the file again if it changed), never as a name to match fuzzily.
    return "/switch", {"model": target, "restart": restart, "exact": True}


def owner_address(url: str) -> tuple[str, int]:
    """``http://host:port`` → (host, port) to connect to; the owner wrote it from its bind.

    Raises:
        OwnerUnreachableError: no port in it.
    """
    rest = url.removeprefix("http://").split("/", 1)[0]
    host, _, port = rest.rpartition(":")
    if not port.isdigit():
        raise OwnerUnreachableError(f"the owner lock names no usable API URL: {url!r}")
    host = host.strip("[]")
    return _WILDCARDS.get(host, host), int(port)


def owner_state(settings: Settings) -> dict[str, object] | None:
    """The llamadash holding the owner lock and what its API says runs, if one does."""
    owner = find_owner(settings)
    if owner is None:
        return None
    found: dict[str, object] = {"pid": owner.pid, "api": owner.api or None}
    if owner.api:
        try:
            code, status = owner.call("GET", "/status", timeout=5)
        except OwnerUnreachableError as exc:
            found["error"] = str(exc)
        else:
            if code == 200 and isinstance(status, dict):
                found["state"] = status.get("state")
                found["profile"] = status.get("profile_id")
            else:
                found["error"] = f"GET /status answered {code}"
    return found


def describe_owner_state(owner: object) -> str:
    """One line for what :func:`owner_state` found."""
    if not isinstance(owner, dict):
        return "none (no llamadash drives this project's server now)"
    where = f"PID {owner['pid']}, API {owner['api'] or 'none'}"
    if owner.get("error"):
        return f"{where}: {owner['error']}"
    if "state" in owner:
        profile = f" {owner['profile']}" if owner.get("profile") else ""
        return f"{where}: {owner['state']}{profile}"
    return where
