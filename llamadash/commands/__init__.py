"""The CLI verbs; each returns an exit code. Errors become one clear line, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from llamadash.core.inifile import ConfigError
from llamadash.core.profiles import UnknownProfileError
from llamadash.core.runtime.base import EngineUnavailableError, RuntimeFailure
from llamadash.core.statefile import OwnerConflictError

EXIT_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE = 1, 2, 4


def dispatch(args: argparse.Namespace) -> int:
    """Run the verb in ``args``, turning known errors into messages and exit codes."""
    # Imported here so `llamadash models` never pays for Textual or Starlette.
    from llamadash.commands.doctor import demo_model, doctor
    from llamadash.commands.menu import complete, menu
    from llamadash.commands.query import logs, models, status
    from llamadash.commands.serving import dashboard, serve
    from llamadash.commands.switching import stop, switch

    verbs: dict[str | None, Callable[[argparse.Namespace], int]] = {
        None: dashboard,
        "serve": serve,
        "models": models,
        "status": status,
        "logs": logs,
        "switch": switch,
        "stop": stop,
        "doctor": doctor,
        "demo-model": demo_model,
        "menu": menu,
        "complete": complete,
    }
    try:
        return verbs[args.verb](args)
    except (ConfigError, UnknownProfileError) as exc:
        return fail(f"error: {exc}", EXIT_USAGE)
    except (EngineUnavailableError, OwnerConflictError) as exc:
        return fail(f"error: {exc}", EXIT_UNAVAILABLE)
    except RuntimeFailure as exc:
        return fail(f"error: {exc}", EXIT_FAILED)


def fail(message: str, code: int) -> int:
    """Print ``message`` to stderr and return ``code``."""
    print(message, file=sys.stderr)
    return code
