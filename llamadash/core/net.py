"""Loopback helpers: is an address loopback, is a port free, is the server healthy."""

from __future__ import annotations

import ipaddress
import json
import socket
from typing import TYPE_CHECKING

from llamadash.core.loopback import LoopbackHttp, LoopbackHttpError

if TYPE_CHECKING:
    from llamadash.core.profiles import Profile
    from llamadash.core.settings import Settings


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1 (brackets and surrounding spaces allowed)."""
    host = host.strip()
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on ``host:port`` and it can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        if probe.connect_ex((host, port)) == 0:
            return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as bind:
        bind.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            bind.bind((host, port))
        except OSError:
            return False
    return True


async def health(client: LoopbackHttp) -> int | None:
    """GET /health: the status code, or None when nothing answers (within 2 s)."""
    try:
        return (await client.get("/health", timeout=2.0)).status
    except LoopbackHttpError:
        return None


async def server_busy(client: LoopbackHttp) -> bool | None:
    """Whether a slot is processing a request (GET /slots); None when /slots does not say.

    The stop escalation needs it: llama-server ignores the first SIGTERM while it generates,
    and a second one sent to an idle server that is already exiting can hang it.
    """
    try:
        reply = await client.get("/slots", timeout=1.0)
    except LoopbackHttpError:
        return None
    if reply.status != 200:
        return None
    try:
        slots = json.loads(reply.body)
    except ValueError:
        return None
    if not isinstance(slots, list):
        return None
    return any(isinstance(slot, dict) and slot.get("is_processing") for slot in slots)


async def slot_activity(
    client: LoopbackHttp,
) -> tuple[bool, tuple[tuple[int, int, int], ...]] | None:
    """Whether a slot is processing, and marks that change with every request it takes.

    A mark is (slot id, task id, tokens decoded): a request that came and went between two
    looks still changes it. None when /slots does not answer.
    """
    try:
        reply = await client.get("/slots", timeout=1.0)
        slots = json.loads(reply.body) if reply.status == 200 else None
    except (LoopbackHttpError, ValueError):
        return None
    if not isinstance(slots, list):
        return None
    marks = []
    busy = False
    for slot in slots:
        if not isinstance(slot, dict):
            continue
        busy = busy or bool(slot.get("is_processing"))
        tokens = slot.get("next_token")
        decoded = tokens[0].get("n_decoded", 0) if isinstance(tokens, list) and tokens else 0
        marks.append((int(slot.get("id", 0)), int(slot.get("id_task", -1)), int(decoded or 0)))
    return busy, tuple(marks)


def pick_port(profile: Profile, taken: set[int], settings: Settings) -> int:
    """The port for a new instance: the profile's own, else a free one of ``port_range``.

    Ports in ``taken`` (held by other instances) are skipped.

    Raises:
        SwitchError: the profile's port is in use, or the range has no free port left.
    """
    from llamadash.core.engine_state import SwitchError

    if profile.port is not None:
        if profile.port in taken or not port_free(profile.port):
            raise SwitchError(
                f"port {profile.port} (profile [{profile.id}] port) is in use;"
                " free it or change the profile's port"
            )
        return profile.port
    for port in settings.ports:
        if port not in taken and port_free(port):
            return port
    raise SwitchError(f"no free port in port_range {settings.port_range}; widen it in models.conf")
