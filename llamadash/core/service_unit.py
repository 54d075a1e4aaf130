"""``llamadash serve`` as a login service: a systemd user unit or a launchd agent, rendered.

Pure: a frozen ``ServiceSpec`` in, the unit's text or the plist's dict out; writing the file
and asking systemctl/launchctl is commands/service*.py's job.

systemd's quoting (systemd.service(5), "Command lines"; systemd.syntax(7)): ExecStart= splits
on spaces outside quotes and unescapes C-style inside them, expands ``$VAR``/``${VAR}`` (so a
literal ``$`` is ``$$``), and every directive expands ``%`` specifiers (a literal ``%`` is
``%%``). Environment= takes quoted ``"NAME=value"`` words, unescaped the same way, with ``%``
expanded but not ``$``. WorkingDirectory= is one path taken as it is, ``%`` aside.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

UNIT_NAME = "llamadash.service"
"""The systemd user unit's file name (one per user: the owner lock is per project anyway)."""
LAUNCHD_LABEL = "local.llamadash"
"""The launchd agent's label; its plist is ``~/Library/LaunchAgents/<label>.plist``."""
RESTART_SEC = 5
"""Seconds systemd waits before restarting a ``serve`` that failed."""
HEADER = (
    "# Written by `llamadash service install`, which rewrites it (the previous one is kept\n"
    "# beside it as .prev). Settings of your own: `systemctl --user edit llamadash`, a drop-in\n"
    "# llamadash never touches.\n"
)

# Words that need no quotes in ExecStart=: nothing systemd would split, unescape or expand.
_PLAIN = re.compile(r"[A-Za-z0-9_./:=@+,-]+")
# Control characters cannot be written literally into a unit line (a newline ends it).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What systemd's string_is_safe() refuses in an executable's path (besides control characters).
_UNSAFE_PROGRAM = re.compile(r"[\"'\\]")


class UnitValueError(ValueError):
    """A value a unit or plist cannot carry (a control character in a path or variable)."""


@dataclass(frozen=True)
class ServiceSpec:
    """What the service runs: its command line, folder and environment."""

    argv: tuple[str, ...]
    """The command; ``argv[0]`` an absolute path (the interpreter running llamadash now)."""
    working_dir: Path
    """The folder it runs in (the project dir of models.conf)."""
    environment: tuple[tuple[str, str], ...]
    """The variables it gets beside what the service manager sets itself (HOME, USER…)."""
    description: str
    """One line saying what it is (systemd's Description=)."""
    log_path: Path
    """Where launchd writes its stdout and stderr (systemd: the journal)."""
    final_exits: tuple[int, ...] = ()
    """Exit codes a restart cannot mend (bad input): systemd does not restart after them."""


def _checked(value: str, what: str) -> str:
    if _CONTROL.search(value):
        raise UnitValueError(f"{what} holds a control character (a newline?): {value!r}")
    return value


def specifiers_escaped(value: str) -> str:
    """``value`` with every ``%`` doubled, so systemd reads no specifier in it."""
    return value.replace("%", "%%")


def _quoted(value: str) -> str:
    """``value`` in double quotes, its backslashes and quotes escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def exec_word(arg: str) -> str:
    """One ExecStart= argument, written so systemd reads back exactly ``arg``.

    Raises:
        UnitValueError: ``arg`` holds a control character.
    """
    word = specifiers_escaped(_checked(arg, "a command-line argument")).replace("$", "$$")
    return word if _PLAIN.fullmatch(word) else _quoted(word)


def program_word(path: str) -> str:
    r"""ExecStart='s first word: systemd expands no ``$`` in it and refuses quotes and ``\``.

    Raises:
        UnitValueError: not an absolute path (systemd would read a leading ``-``, ``@``,
            ``+``, ``!`` or ``:`` as a prefix), or a character systemd refuses there.
    """
    if not path.startswith("/"):
        raise UnitValueError(f"the service's program must be an absolute path, got {path!r}")
    if _UNSAFE_PROGRAM.search(_checked(path, "the program")):
        raise UnitValueError(
            f"systemd runs no program whose path holds a quote or a backslash: {path}"
            " (install llamadash's environment in another folder)"
        )
    word = specifiers_escaped(path)
    return word if _PLAIN.fullmatch(word) else _quoted(word)


def exec_line(argv: tuple[str, ...]) -> str:
    """The ExecStart= value for ``argv``.

    Raises:
        UnitValueError: no program, a program ``program_word`` refuses, a control character.
    """
    if not argv:
        raise UnitValueError("the service has no command")
    return " ".join([program_word(argv[0]), *(exec_word(arg) for arg in argv[1:])])


def exec_argv(unit_text: str) -> tuple[str, ...] | None:
    r"""The ExecStart= arguments of a unit llamadash wrote, as systemd reads them; None: none.

    shlex (POSIX shell words) reads what ``exec_word`` writes as systemd does once ``$$`` and
    ``%%`` are undone: only double-quoted words with ``\\`` and ``\"`` escapes, plain words
    without either. It is not systemd's parser in general: shlex knows no C escapes (``\n``,
    ``\x41``), no specifiers and no ``$VAR`` expansion, which llamadash never writes. The
    program's own ``$`` is never expanded by systemd, so it is never doubled.
    """
    for line in unit_text.splitlines():
        if line.startswith("ExecStart="):
            value = line.removeprefix("ExecStart=").replace("%%", "%")
            try:
                program, *args = shlex.split(value)
            except ValueError:  # an unbalanced quote, or nothing: not a line llamadash wrote
                return None
            return (program, *(arg.replace("$$", "$") for arg in args))
    return None


def environment_word(name: str, value: str) -> str:
    """One Environment= assignment, quoted (``$`` is literal there, ``%`` is not).

    Raises:
        UnitValueError: a name that is not a variable name, or a control character.
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise UnitValueError(f"not an environment variable name: {name!r}")
    return _quoted(specifiers_escaped(_checked(f"{name}={value}", f"${name}")))


def render_unit(spec: ServiceSpec) -> str:
    """The systemd user unit running ``spec``: restarted on failure, wanted by default.target."""
    directory = _checked(str(spec.working_dir), "the working directory")
    if not spec.working_dir.is_absolute():
        raise UnitValueError(f"the working directory must be absolute: {directory}")
    lines = [
        HEADER.rstrip("\n"),
        "[Unit]",
        f"Description={specifiers_escaped(_checked(spec.description, 'the description'))}",
        "",
        "[Service]",
        "Type=exec",
        f"ExecStart={exec_line(spec.argv)}",
        f"WorkingDirectory={specifiers_escaped(directory)}",
        *(f"Environment={environment_word(k, v)}" for k, v in spec.environment),
        "Restart=on-failure",
        f"RestartSec={RESTART_SEC}",
        *(f"RestartPreventExitStatus={code}" for code in spec.final_exits),
        "",
        "[Install]",
        "WantedBy=default.target",
    ]
    return "\n".join(lines) + "\n"


def render_plist(spec: ServiceSpec, label: str = LAUNCHD_LABEL) -> dict[str, object]:
    """The launchd agent running ``spec`` (for plistlib): started at login, kept up on failure.

    ProgramArguments is the argument list itself, so nothing is ever read by a shell.
    """
    for arg in spec.argv:
        _checked(arg, "a command-line argument")
    return {
        "Label": label,
        "ProgramArguments": list(spec.argv),
        "WorkingDirectory": str(spec.working_dir),
        "EnvironmentVariables": dict(spec.environment),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": RESTART_SEC,
        "StandardOutPath": str(spec.log_path),
        "StandardErrorPath": str(spec.log_path),
    }
