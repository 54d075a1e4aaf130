"""``llamadash logs [<profile>] [-f] [--all]``: the server logs every llamadash writes.

Read-only: it works while another llamadash owns the servers. The foreground instance's log
is ``core.context.log_path(settings)``; an instance beside it writes the same function's file
for its own settings (``core.context.beside_settings``). ``--all`` prints them together, each
line prefixed by its instance's profile id.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from llamadash.commands.common import engine_from
from llamadash.core.context import Engine, beside_settings, log_path

POLL_SECONDS = 0.2
RECORD_SECONDS = 1.0  # how often --all -f looks for instances started meanwhile
FOREGROUND = "foreground"


def logs(args: argparse.Namespace) -> int:
    """Print a server log (or every one with ``--all``), optionally following it."""
    engine = engine_from(args, lenient=True)
    if args.all:
        sources = _every_log(engine)
        width = max(len(name) for name in sources)
        for name, path in sources.items():
            for line in _file_tail(path, args.lines):
                _print(args, name, line, width)
        if args.follow:
            _follow(args, engine, sources, width)
        return 0
    name, path = _one_log(engine, args.profile)
    lines = _file_tail(path, args.lines)
    if not lines and path == engine.log_path:  # nothing written yet: ask the runtime
        obs = engine.runtime.observe()
        lines = engine.runtime.log_tail(obs.ident, args.lines) if obs.ident else []
    for line in lines:
        _print(args, name, line, 0)
    if args.follow:
        _follow(args, engine, {name: path}, 0, more=False)
    return 0


def _one_log(engine: Engine, query: str | None) -> tuple[str, Path]:
    """The log of the instance running ``query`` (a profile; None: the foreground one).

    A profile beside the foreground one has its own log; one that does not run there reads the
    foreground's log (every switch of it is there), unless it ran beside it before and the
    foreground does not run it now.

    Raises:
        UnknownProfileError: ``query`` names no profile (exit 2, with near matches).
    """
    if query is None:
        return _foreground_name(engine), engine.log_path
    members = engine.pool.record.members()
    profile_id = query if query in members else engine.profiles.resolve(query).id
    own = log_path(beside_settings(engine.settings, profile_id, engine.settings.port))
    if profile_id in members:
        return profile_id, own
    if own.is_file() and _foreground_name(engine) != profile_id:
        return profile_id, own
    return profile_id, engine.log_path


def _every_log(engine: Engine) -> dict[str, Path]:
    """The foreground log (named after what it runs), then each recorded instance's."""
    sources = {_foreground_name(engine): engine.log_path}
    for profile_id in engine.pool.record.members():
        sources[profile_id] = log_path(beside_settings(engine.settings, profile_id, 0))
    return sources


def _foreground_name(engine: Engine) -> str:
    """The profile the foreground server runs, else ``foreground``."""
    try:
        obs = engine.runtime.observe()
    except Exception:  # an engine that cannot be asked: the file is still worth reading
        return FOREGROUND
    return (obs.profile_id if obs.running else None) or FOREGROUND


def _print(args: argparse.Namespace, name: str, line: str, width: int) -> None:
    if args.json:  # one JSON object per line: {"instance", "line"}
        print(json.dumps({"instance": name, "line": line}, ensure_ascii=False), flush=True)
    elif width:
        print(f"{name:<{width}} | {line}", flush=True)
    else:
        print(line, flush=True)


def _file_tail(path: Path, count: int) -> list[str]:
    try:
        data = path.read_bytes()[-count * 400 :]
    except FileNotFoundError:
        return []
    return data.decode("utf-8", "replace").splitlines()[-count:]


@dataclass
class _Followed:
    """One log being followed: where we are in it."""

    name: str
    path: Path
    handle: IO[bytes] | None = None
    start: int = -1
    """Where to start once the file exists (-1: at its end when first opened)."""

    def lines(self) -> list[bytes]:
        """New complete lines since the last call (reopens a rotated or recreated file)."""
        if self.handle is None:
            try:
                self.handle = self.path.open("rb")
            except FileNotFoundError:
                self.start = 0  # created later: every line it gets is new
                return []
            if self.start < 0:
                self.handle.seek(0, 2)
            else:
                self.handle.seek(self.start)
        try:
            rotated = self.path.stat().st_size < self.handle.tell()
        except FileNotFoundError:
            rotated = True
        if rotated:
            self.handle.close()
            self.handle, self.start = None, 0
            return self.lines()
        lines = self.handle.readlines()
        if lines and not lines[-1].endswith(b"\n"):  # being written: the rest comes next time
            self.handle.seek(-len(lines.pop()), 1)
        return lines


def _follow(
    args: argparse.Namespace,
    engine: Engine,
    sources: dict[str, Path],
    width: int,
    *,
    more: bool = True,
) -> None:
    """Print new lines of every source until interrupted.

    ``more``: also of instances that start meanwhile (the pool record names them), from their
    first new line.
    """
    followed = [_Followed(name, path) for name, path in sources.items()]
    sizes = _sizes(engine) if more else {}  # where each possible log ends now
    looked = time.monotonic()
    while True:
        quiet = True
        for log in followed:
            for raw in log.lines():
                quiet = False
                _print(args, log.name, raw.decode("utf-8", "replace").rstrip("\n"), width)
        if more and time.monotonic() - looked >= RECORD_SECONDS:
            looked = time.monotonic()
            known = {log.path for log in followed}
            for name, path in _every_log(engine).items():
                if path not in known:
                    followed.append(_Followed(name, path, start=sizes.get(path, 0)))
        if quiet:
            time.sleep(POLL_SECONDS)


def _sizes(engine: Engine) -> dict[Path, int]:
    """The size of every profile's own log now (an instance started later begins there)."""
    sizes = {}
    for profile in engine.profiles.profiles:
        path = log_path(beside_settings(engine.settings, profile.id, 0))
        try:
            sizes[path] = path.stat().st_size
        except FileNotFoundError:
            sizes[path] = 0
    return sizes
