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
from collections.abc import Callable, Sequence
from pathlib import Path

from llamadash import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SUPERSEDED, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4


# The options every verb takes, before or after the verb, and their defaults.
_COMMON_DEFAULTS: dict[str, object] = {"models_conf": None, "runtime": None, "json": False}
# The top-level options spelled in full (what ``verb_of`` reads): with a value, and without.
_VALUE_OPTIONS = ("--models-conf", "--runtime", "--api-port")
_FLAG_OPTIONS = ("--json", "--no-api")


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


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser for every verb, or with ``only`` that verb's (see ``verb_of``).

    Building all thirteen verbs' parsers costs a forwarded ``status`` about 7 ms of its run.
    """
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
    for name, (help_text, add_arguments) in VERB_PARSERS.items():
        if only is None or name == only:
            add_arguments(verbs.add_parser(name, parents=[common], help=help_text))
    return parser


def verb_of(argv: Sequence[str]) -> str | None:
    """The verb argparse will find in ``argv`` when that is certain, else None.

    Certain: only the top-level options, spelled in full, come before it. An abbreviation
    (``--models``), ``-h``, ``--`` or anything else leaves the verb to the whole parser.
    """
    tokens = iter(argv)
    for token in tokens:
        if token in VERB_PARSERS:
            return token
        name, equals, _value = token.partition("=")
        if name in _VALUE_OPTIONS:
            if not equals:
                next(tokens, None)  # its value, whatever it looks like (argparse takes it too)
        elif token not in _FLAG_OPTIONS:
            return None
    return None


def _no_arguments(_parser: argparse.ArgumentParser) -> None:
    """``models`` and ``status`` take only the common options."""


def _serve(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8081)")
    serve.add_argument("--token", default=None, help="bearer token (required off loopback)")
    serve.add_argument("--switch", default=None, metavar="PROFILE", help="switch to it first")


def _switch(switch: argparse.ArgumentParser) -> None:
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


def _stop(stop: argparse.ArgumentParser) -> None:
    stop.add_argument(
        "profile",
        nargs="?",
        default=None,
        help="the instance running this profile, or all (default: the foreground one)",
    )


def _ps(ps: argparse.ArgumentParser) -> None:
    ps.add_argument("--watch", action="store_true", help="refresh every second until Ctrl-C")


def _start(start: argparse.ArgumentParser) -> None:
    start.add_argument("profile", help="id, menu number, prefix or name; all: every profile")


def _restart(restart: argparse.ArgumentParser) -> None:
    restart.add_argument("profile", help="id, menu number, prefix or name, or all")


def _logs(logs: argparse.ArgumentParser) -> None:
    logs.add_argument(
        "profile", nargs="?", default=None, help="the instance running it (default: foreground)"
    )
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("-n", "--lines", type=int, default=100, help="how many lines (default 100)")
    logs.add_argument(
        "--all", action="store_true", help="every instance's log, lines prefixed by profile id"
    )


def _doctor(doctor: argparse.ArgumentParser) -> None:
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


def _menu(menu: argparse.ArgumentParser) -> None:
    menu.add_argument(
        "--auto",
        action="store_true",
        help="no GPU or no terminal: print default_profile without asking",
    )


def _complete(complete: argparse.ArgumentParser) -> None:
    complete.add_argument("prompt")
    complete.add_argument("-n", "--n-predict", type=int, default=32)


def _demo_model(demo: argparse.ArgumentParser) -> None:
    demo.add_argument("--quiet", action="store_true")
    demo.add_argument(
        "--for",
        dest="for_profile",
        metavar="PROFILE",
        default=None,
        help="only if this profile uses the demo model and it is missing",
    )


def _attach(attach: argparse.ArgumentParser) -> None:
    attach.add_argument(
        "url",
        nargs="?",
        default=None,
        metavar="URL",
        help="its API, http://HOST:PORT (default: the owner here, from its lock)",
    )
    attach.add_argument(
        "--token", default=None, help="its API token (default: LLAMADASH_API_TOKEN, api_token)"
    )


# The verbs whose parsers live in cli_parsers.py (imported only when one of them is built).
_MORE_VERBS = {
    "pull": "download a GGUF from Hugging Face into models_dir",
    "info": "a Hub repo's quants and sizes, or a local GGUF's metadata",
    "search": "GGUF repos on Hugging Face",
    "list": "models in models_dir, and who uses them",
    "rm": "remove a pulled model (asks first)",
    "profile": "add, change or remove a profile in models.conf",
    "run": "chat with a profile, or answer one prompt (or stdin)",
    "bench": "measure prompt and generation speed; keep the history",
    "update": "the llama-server build in use; use or build another",
    "web": "the dashboard in a browser (loopback; a token for anything else)",
    "service": "run `serve` at login: a systemd user unit or launchd agent",
}


def _more(name: str) -> Callable[[argparse.ArgumentParser], None]:
    def add(parser: argparse.ArgumentParser) -> None:
        from llamadash.cli_parsers import PARSERS

        PARSERS[name](parser)

    return add


# Each verb: its help line and what adds its own arguments, in the order --help lists them.
VERB_PARSERS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "serve": ("the side API without the dashboard", _serve),
    "attach": ("the dashboard of a running llamadash (its API), here or on another host", _attach),
    "models": ("list profiles (numbered like the picker)", _no_arguments),
    "status": ("what runs now", _no_arguments),
    "switch": ("switch to a profile and wait", _switch),
    "stop": ("stop llama-server", _stop),
    "ps": ("every running instance", _ps),
    "start": ("start a profile alongside what runs, and wait", _start),
    "restart": ("restart an instance where it runs (all: every one)", _restart),
    "logs": ("server logs", _logs),
    "doctor": ("check what this machine has", _doctor),
    "menu": ("numbered profile menu on the terminal; prints the chosen id", _menu),
    "complete": ("send one /completion request to the running server", _complete),
    "demo-model": ("put the demo GGUF (Gemma 3 270M) into the models dir", _demo_model),
    **{name: (text, _more(name)) for name, text in _MORE_VERBS.items()},
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse ``argv``; the common options may come before or after the verb."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(verb_of(argv)).parse_args(argv)
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
