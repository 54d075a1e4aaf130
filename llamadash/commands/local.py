"""A switch or stop this process runs itself (nobody owns the server), and ``--dry-run``."""

from __future__ import annotations

import asyncio
import shlex
import sys
from typing import Any

from llamadash.commands.common import emit_json
from llamadash.core.context import Engine
from llamadash.core.envfile import EnvValueError, render_block
from llamadash.core.events import Result, State, SwitchEvent, SwitchOutcome
from llamadash.core.instance import SwitchError

EXIT_USAGE = 2


def run_locally(
    engine: Engine, target: str | None, restart: bool, quiet: bool
) -> tuple[dict[str, Any], str]:
    """Take the owner lock, switch to ``target`` (None: stop); the outcome and its result.

    Raises:
        OwnerConflictError: another llamadash took the lock meanwhile.
    """
    engine.lock.acquire()
    try:
        outcome = asyncio.run(_run(engine, target, restart, quiet))
    finally:
        engine.lock.release()
    return outcome.to_dict(), outcome.result.value


async def _run(engine: Engine, target: str | None, restart: bool, quiet: bool) -> SwitchOutcome:
    switcher = engine.switcher
    try:
        await switcher.adopt(watch=False)  # a one-shot command: nobody to tell later
        # Subscribed after adopting: "ready: … (adopted a running server)" is what was
        # found, not what this command does (`llamadash stop` printed it before stopping).
        if not quiet:
            switcher.subscribe(ProgressPrinter())
        try:
            return await switcher.request(target, restart=restart)
        except SwitchError as exc:
            return SwitchOutcome(Result.FAILED, target, str(exc))
    finally:
        await switcher.aclose()


class ProgressPrinter:
    """Prints state changes (and load stages, once each) to stderr.

    ``named``: each line starts with the instance it is about (the pool's verbs: an eviction
    or a second instance shows whose change it is).
    """

    def __init__(self, *, named: bool = False) -> None:
        self.named = named
        self.last: dict[str | None, str] = {}

    def __call__(self, event: SwitchEvent) -> None:
        """Print ``event`` unless it says what the last line of its instance said."""
        text = {
            State.STOPPING: "stopping…",
            State.STARTING: f"starting {event.profile_name}…"
            + (f" ({event.warning})" if event.warning else ""),
            State.LOADING: f"loading {event.profile_name}: "
            + (event.progress.stage if event.progress else ""),
            State.READY: f"ready: {event.profile_name} ({event.message})",
            State.FAILED: f"failed: {event.error}",
            State.IDLE: "stopped",
        }[event.state]
        key = event.instance if self.named else None
        if text != self.last.get(key):
            self.last[key] = text
            shown = f"{event.instance}: {text}" if self.named and event.instance else text
            print(shown, file=sys.stderr, flush=True)


def dry_run(engine: Engine, profile_id: str, as_json: bool) -> int:
    """Print the .env block and command line a switch to ``profile_id`` would use."""
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
        return EXIT_USAGE
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
