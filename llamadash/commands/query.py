"""Read-only verbs: models, status. They work while another llamadash owns the server."""

from __future__ import annotations

import argparse
import sys
import time

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

    from llamadash.core.context import Engine
    from llamadash.core.profiles import Profile
    from llamadash.core.settings import Settings

EXIT_UNAVAILABLE = 4


def models(args: argparse.Namespace) -> int:
    """List profiles numbered like the picker: 1–N, then bench profiles b1–bN."""
    profiles, settings = read_config(args)
    owner = find_owner(settings)
    answer = _ask(owner, "/models") if owner else None
    if isinstance(answer, dict):
        current = answer.get("current")
    else:  # nobody owns the server (or its owner did not answer): look ourselves
        engine = engine_from(args)
        profiles, settings = engine.profiles, engine.settings
        current = _current_profile(engine)
    rows = [(str(i), p) for i, p in enumerate(profiles.production, 1)]
    rows += [(f"b{i}", p) for i, p in enumerate(profiles.benches, 1)]
    if args.json:
        emit_json([_profile_dict(settings, key, p, current) for key, p in rows])
        return 0
    for key, profile in rows:
        mark = "*" if profile.id == current else " "
        missing = "" if profile.model_path(settings.models_dir).is_file() else "  [model missing]"
        if missing and profile.hf:
            missing = f"  [model missing: llamadash pull {profile.id}]"
        ctx = f"ctx {profile.ctx}" if profile.ctx else ""
        line = f"{mark}{key:>3}  {profile.id:<22} {profile.name:<40} {profile.speed:<12} {ctx}"
        print(line + missing)
    return 0


def _profile_dict(
    settings: Settings, key: str, profile: Profile, current: object
) -> dict[str, object]:
    return {
        "key": key,
        "id": profile.id,
        "name": profile.name,
        "speed": profile.speed,
        "ctx": profile.ctx,
        "bench": profile.bench,
        "current": profile.id == current,
        "model": str(profile.model_path(settings.models_dir)),
        "model_present": profile.model_path(settings.models_dir).is_file(),
        "hf": profile.hf or None,
    }


def _current_profile(engine: Engine) -> str | None:
    try:
        obs = engine.runtime.observe()
    except Exception:
        return None
    return obs.profile_id if obs.running else None


def status(args: argparse.Namespace) -> int:
    """Print what runs now (from the owner's API when another llamadash drives it).

    A broken models.conf is shown, not fatal: what runs is still worth knowing.
    """
    _profiles, settings, config_error = read_config_lenient(args)
    owner = find_owner(settings)
    if owner is not None and owner.api:
        try:
            code, data = owner.call("GET", "/status", timeout=5)
        except OwnerUnreachableError:
            data = None  # it went away meanwhile: look ourselves, as without an owner
        else:
            if code != 200 or not isinstance(data, dict):
                return _refused(owner, code, data)
            # The owner polls the file once a second; this command has just read it.
            data["config_error"] = config_error or data.get("config_error")
            _show_status(data, args.json)
            return 0
    _show_status(_local_status(engine_from(args, lenient=True)), args.json)
    return 0


def _ask(owner: Owner, path: str) -> Any:
    """The owner's JSON answer to GET ``path``, or None when it gives no good one."""
    if not owner.api:
        return None
    try:
        code, data = owner.call("GET", path, timeout=5)
    except OwnerUnreachableError:
        return None
    return data if code == 200 else None


def _refused(owner: Owner, code: int, data: Any) -> int:
    message = data.get("message") if isinstance(data, dict) else None
    print(
        f"error: the running llamadash at {owner.api} answered {code}: {message or data}",
        file=sys.stderr,
    )
    return EXIT_UNAVAILABLE


def _show_status(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(data)
    else:
        print(describe(data))


def _local_status(engine: Engine) -> dict[str, Any]:
    import asyncio

    from llamadash.core.pool_view import pool_status

    async def adopt() -> dict[str, Any]:
        try:
            await engine.pool.adopt(watch=False)  # those beside it too: "N other instances"
            return (await pool_status(engine.pool)).to_dict()
        finally:
            await engine.pool.aclose()

    return asyncio.run(adopt())


def describe(data: dict[str, object]) -> str:
    """Human-readable status lines."""
    lines = [f"state:     {data['state']}" + (f" ({data['note']})" if data.get("note") else "")]
    if data.get("profile_id"):
        lines.append(f"profile:   {data['profile_id']} ({data.get('profile_name', '')})")
    since = data.get("since")
    if isinstance(since, int | float):
        lines.append(f"since:     {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since))}")
    uptime = data.get("uptime")
    if isinstance(uptime, int | float):
        lines.append(f"uptime:    {uptime:.0f}s")
    lines.append(f"endpoint:  {data.get('endpoint')}  (runtime: {data.get('runtime')})")
    if data.get("container"):
        lines.append(f"server:    {str(data['container'])[:12]} {data.get('container_state')}")
    if data.get("args"):
        lines.append("args:      " + " ".join(str(a) for a in data["args"]))  # type: ignore[attr-defined]
    if data.get("restart_to_apply"):
        lines.append("config:    its args in models.conf changed: restart to apply")
    if data.get("last_error"):
        lines.append(f"error:     {data['last_error']}")
    if data.get("warning"):
        lines.append(f"note:      {data['warning']}")
    if data.get("config_error"):
        lines.append(f"config:    {data['config_error']}")
    listed = data.get("instances")
    rows = listed if isinstance(listed, list) else []
    others = [i for i in rows if isinstance(i, dict) and not i.get("foreground")]
    if others:
        shown = ", ".join(f"{i.get('id')} ({i.get('state')}, :{i.get('port')})" for i in others)
        count = f"{len(others)} other instance" + ("s" if len(others) > 1 else "")
        lines.append(f"others:    {count}: {shown}  (llamadash ps)")
    changed = data.get("settings_changed")
    if isinstance(changed, list) and changed:
        from llamadash.core.reload import settings_note  # only here: it imports asyncio

        lines.append(f"config:    {settings_note(str(name) for name in changed)}")
    return "\n".join(lines)
