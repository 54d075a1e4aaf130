"""The command line that runs this llamadash again, as the user can type it here.

After ``./start.sh`` the entry point is ``.venv/bin/llamadash``, not on PATH, and the dashboard
may run on another models.conf: a bare "llamadash stop" then fails or stops the wrong server.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

from llamadash.commands.common import default_models_conf

NAME = "llamadash"


def again(*words: str, models_conf: Path, runtime: str | None = None) -> str:
    """A shell line running this llamadash with ``words`` [--models-conf PATH] [--runtime R].

    ``--models-conf`` only when a plain run here would read another file; ``--runtime`` only
    when this run was given one (else the same configuration picks the same runtime).
    """
    line = [entry_point(), *words]
    if not _same_file(models_conf, default_models_conf()):
        line += ["--models-conf", shown(models_conf)]
    if runtime:
        line += ["--runtime", runtime]
    return shlex.join(line)


def entry_point(argv0: str | None = None) -> str:
    """``llamadash`` when that name on PATH is this program, else its path (relative if here)."""
    program = Path(argv0 if argv0 is not None else sys.argv[0])
    if program.name != NAME or not program.is_file():
        # Not started by its console script (python -c, a test): the one beside the interpreter.
        program = Path(sys.executable).with_name(NAME)
        if not program.is_file():
            return NAME
    on_path = shutil.which(NAME)
    if on_path and _same_file(Path(on_path), program):
        return NAME
    return shown(program)


def shown(path: Path) -> str:
    """``path`` as typed from the current directory: relative below it, else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        relative = absolute.relative_to(Path.cwd())
    except ValueError:
        return str(absolute)
    # "./x": a bare relative name would be looked up on PATH when it is the program.
    return str(relative) if len(relative.parts) > 1 else f"./{relative}"


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
