"""``menu``: the numbered profile menu start.sh shows; ``complete``: one /completion request."""

from __future__ import annotations

import argparse
import sys

import httpx

from llamadash.commands.common import emit_json, engine_from
from llamadash.core.matching import resolve_profile
from llamadash.core.profiles import ProfileSet, UnknownProfileError
from llamadash.core.settings import Settings


def menu(args: argparse.Namespace) -> int:
    """Ask for a profile on the terminal (numbers like the picker); print its id on stdout."""
    engine = engine_from(args)
    profiles, settings = engine.profiles, engine.settings
    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    if args.auto and settings.default_profile and (not interactive or not _has_gpu()):
        reason = "no terminal to ask on" if not interactive else "no NVIDIA GPU"
        print(
            f"({reason}: using default_profile {settings.default_profile};"
            " pass a profile to choose another)",
            file=sys.stderr,
        )
        print(resolve_profile(profiles, settings.default_profile).id)
        return 0
    if not interactive:
        print("error: no terminal to show the menu on; pass a profile", file=sys.stderr)
        return 2
    _print_menu(profiles, settings, bench=False)
    bench = False
    while True:
        try:
            answer = input("profile number (b: bench profiles, q: quit): ").strip()
        except EOFError:
            return 2
        if answer.lower() in ("q", "quit"):
            return 1
        if answer.lower() == "b":
            bench = not bench
            _print_menu(profiles, settings, bench=bench)
            continue
        if not answer and settings.default_profile:
            answer = settings.default_profile
        query = f"b{answer}" if bench and answer.isdigit() else answer
        try:
            print(resolve_profile(profiles, query).id)
            return 0
        except UnknownProfileError as exc:
            print(exc, file=sys.stderr)


def _print_menu(profiles: ProfileSet, settings: Settings, bench: bool) -> None:
    shown = profiles.benches if bench else profiles.production
    prefix = "b" if bench else ""
    print("Bench profiles:" if bench else "Profiles:", file=sys.stderr)
    for number, profile in enumerate(shown, 1):
        default = "  (default)" if profile.id == settings.default_profile else ""
        missing = "" if profile.model_path(settings.models_dir).is_file() else "  [model missing]"
        print(
            f"  {prefix}{number}) {profile.name}  {profile.speed}{default}{missing}",
            file=sys.stderr,
        )


def _has_gpu() -> bool:
    from llamadash.collectors.gpu import nvidia_gpu_count

    return nvidia_gpu_count() > 0


def complete(args: argparse.Namespace) -> int:
    """POST /completion to the running server and print the text (a quick smoke test)."""
    engine = engine_from(args)
    url = f"{engine.switcher.endpoint}/completion"
    try:
        reply = httpx.post(
            url, json={"prompt": args.prompt, "n_predict": args.n_predict}, timeout=120
        )
    except httpx.HTTPError as exc:
        print(f"error: no answer from {url}: {exc}", file=sys.stderr)
        return 1
    if reply.status_code != 200:
        print(f"error: {url} answered {reply.status_code}: {reply.text[:300]}", file=sys.stderr)
        return 1
    data = reply.json()
    if args.json:
        emit_json(data)
    else:
        print(f"{args.prompt}{data.get('content', '')}")
    return 0
