"""The CLI verbs; each returns an exit code. Errors become one clear line, never a traceback."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

from llamadash.commands.common import fail

__all__ = ["dispatch", "fail"]

EXIT_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE = 1, 2, 4

# Verb → "module:function". Only the verb's own module is imported, so `llamadash status`
# forwarded to a running owner never pays for Textual, Starlette, httpx or Docker.
VERBS: dict[str | None, str] = {
    None: "serving:dashboard",
    "serve": "serving:serve",
    "attach": "attach:attach",
    "models": "query:models",
    "status": "query:status",
    "logs": "logs:logs",
    "switch": "switching:switch",
    "stop": "switching:stop",
    "ps": "instances:ps",
    "start": "instances:start",
    "restart": "instances:restart",
    "doctor": "doctor:doctor",
    "demo-model": "doctor:demo_model",
    "menu": "menu:menu",
    "complete": "menu:complete",
    "pull": "hub_pull:pull",
    "info": "hub_info:info",
    "search": "hub_info:search",
    "list": "hub_local:list_models",
    "rm": "hub_local:rm",
    "profile": "profile_edit:profile",
    "run": "run:run",
    "bench": "bench:bench",
    "update": "update:update",
    "web": "web:web",
    "service": "service:service",
}


def verb_function(verb: str | None) -> Callable[[argparse.Namespace], int]:
    """Import the module of ``verb`` and return its function."""
    module, _, name = VERBS[verb].partition(":")
    function: Callable[[argparse.Namespace], int] = getattr(
        importlib.import_module(f"llamadash.commands.{module}"), name
    )
    return function


def dispatch(args: argparse.Namespace) -> int:
    """Run the verb in ``args``, turning known errors into messages and exit codes."""
    verb = verb_function(args.verb)
    try:
        return verb(args)
    except Exception as exc:
        code = exit_code_for(exc)
        if code is None:
            raise
        return fail(f"error: {exc}", code)


def exit_code_for(exc: Exception) -> int | None:
    """The exit code of a known error; None for a bug (which keeps its traceback)."""
    # Imported only on an error, so a forwarded verb does not load the runtime layer.
    from llamadash.core.admission import AdmissionRefused
    from llamadash.core.inifile import ConfigError
    from llamadash.core.profiles import UnknownProfileError
    from llamadash.core.runtime.base import EngineUnavailableError, RuntimeFailure
    from llamadash.core.statefile import OwnerConflictError

    if isinstance(exc, ConfigError | UnknownProfileError):
        return EXIT_USAGE
    if isinstance(exc, EngineUnavailableError | OwnerConflictError):
        return EXIT_UNAVAILABLE
    if isinstance(exc, RuntimeFailure | AdmissionRefused):
        return EXIT_FAILED
    return None
