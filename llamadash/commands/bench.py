"""``llamadash bench [profile…|--all|--bench]``: each profile's real speed, kept as history.

Each profile is started afresh (its load time measured), then measured by
:mod:`llamadash.core.bench_measure`; every result is appended to the state dir's history
(:mod:`llamadash.core.bench_history`) and compared with the last one of the same model file
and arguments. Exit codes: 0 measured, 1 a profile failed or regressed, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from llamadash.commands.bring_up import NotReadyError, bring_up
from llamadash.commands.common import emit_json, fail
from llamadash.commands.owner import read_config
from llamadash.core.bench_history import (
    BenchHistory,
    Figure,
)
from llamadash.core.bench_measure import BenchError, bench_profile
from llamadash.core.profiles import Profile, ProfileSet
from llamadash.core.settings import Settings

EXIT_FAILED, EXIT_USAGE = 1, 2


def bench(args: argparse.Namespace) -> int:
    """Measure each chosen profile; print a table (or JSON); keep every result."""
    profiles, settings = read_config(args)
    chosen = _chosen(profiles, settings, args)
    if not chosen:
        return fail(
            "error: name profiles to bench (or --all, --bench), or set default_profile",
            EXIT_USAGE,
        )
    history = BenchHistory.in_state_dir(settings.state_dir)
    rows = [_bench_one(args, settings, history, profile) for profile in chosen]
    if args.json:
        emit_json(rows)
    else:
        print(table(rows))
        for row in rows:
            for line in row["regressions"]:
                print(f"REGRESSION {row['profile']}: {line}", file=sys.stderr)
            if row["error"]:
                print(f"{row['profile']}: {row['error']}", file=sys.stderr)
        print(f"(history: {history.path})", file=sys.stderr)
    failed = any(row["error"] or row["regressions"] for row in rows)
    return EXIT_FAILED if failed else 0


def _chosen(profiles: ProfileSet, settings: Settings, args: argparse.Namespace) -> list[Profile]:
    """The profiles the arguments name, in the order given (each once).

    Raises:
        UnknownProfileError: a name matches no profile (exit 2, with near matches).
    """
    if args.all:
        return list(profiles.production)
    if args.bench:
        return list(profiles.benches)
    queries = args.profiles or ([settings.default_profile] if settings.default_profile else [])
    found: dict[str, Profile] = {}
    for query in queries:
        profile = profiles.resolve(query)
        found.setdefault(profile.id, profile)
    return list(found.values())


def _bench_one(
    args: argparse.Namespace, settings: Settings, history: BenchHistory, profile: Profile
) -> dict[str, Any]:
    """Start and measure one profile; the row printed and returned by ``--json``."""
    row: dict[str, Any] = {"profile": profile.id, "speed": profile.speed, "error": None}
    row.update(result=None, previous=None, regressions=[], stated_below=False)
    quiet = args.json
    try:
        running = bring_up(args, settings, profile.id, restart=True, quiet=quiet)
        if not quiet:
            print(f"{profile.id}: measuring ({args.repeat} repetitions)…", file=sys.stderr)
        load = running.seconds if running.restarted else None
        result = bench_profile(
            profile,
            settings.models_dir,
            running.endpoint,
            load_seconds=load,
            repeats=args.repeat,
            on_repeat=_shower(quiet),
            binary=running.binary,
        )
    except (NotReadyError, BenchError) as exc:
        row["error"] = str(exc)
        return row
    previous, regressed = history.add(result)
    row.update(
        result=result.to_dict(),
        previous=previous.to_dict() if previous else None,
        regressions=regressed,
        stated_below=result.below_promise,
    )
    return row


def _shower(quiet: bool) -> Any:
    def show(repeat: int, timings: dict[str, Any]) -> None:
        if not quiet:
            print(
                f"  {repeat + 1}: prompt {timings['prompt_per_second']:.1f} tokens/s,"
                f" generation {timings['predicted_per_second']:.1f} tokens/s",
                file=sys.stderr,
                flush=True,
            )

    return show


def table(rows: list[dict[str, Any]]) -> str:
    """The results as an aligned table (tokens/s medians, ± the spread in percent)."""
    header = ("profile", "load", "prompt t/s", "gen t/s", "tokens", "profile says", "vs last")
    lines = [header]
    for row in rows:
        result = row["result"]
        if result is None:
            lines.append((row["profile"], "-", "-", "-", "-", row["speed"] or "-", "failed"))
            continue
        load = result["load_seconds"]
        says = (row["speed"] or "-") + (" (below)" if row["stated_below"] else "")
        lines.append(
            (
                row["profile"],
                "-" if load is None else f"{load:.2f} s",
                _figure(result["prompt"]),
                _figure(result["gen"]),
                f"{result['prompt_tokens']}+{result['gen_tokens']}",
                says,
                _versus(result, row["previous"], bool(row["regressions"])),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _figure(figure: dict[str, float]) -> str:
    return Figure(**figure).describe()


def _versus(result: dict[str, Any], previous: dict[str, Any] | None, regressed: bool) -> str:
    if previous is None:
        return "first"
    changes = []
    for name in ("prompt", "gen"):
        before = previous[name]["median"]
        change = 100.0 * (result[name]["median"] - before) / before if before else 0.0
        changes.append(f"{change:+.0f}%")
    return " / ".join(changes) + (" REGRESSION" if regressed else "")
