"""``llamadash pull user/repo[:quant]``: a GGUF from the Hub into models_dir (and a profile)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from llamadash.commands.common import emit_json, fail
from llamadash.commands.owner import read_config_lenient

if TYPE_CHECKING:
    from llamadash.core.model_ref import ModelRef
    from llamadash.core.profiles import Profile, ProfileSet
    from llamadash.core.settings import Settings
    from llamadash.hub.download import Transfer
    from llamadash.hub.pull import PullPlan

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
REDRAW_SECONDS = 0.2


class ProgressLine:
    """One redrawn line on a terminal (bytes, rate, ETA); nothing when not a terminal."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.started = time.monotonic()
        self.drawn = 0.0
        self.last: Transfer | None = None

    def __call__(self, transfer: Transfer) -> None:
        """Note how far ``transfer`` is; redraw at most every REDRAW_SECONDS."""
        if self.last is None or self.last.name != transfer.name:
            self.started = time.monotonic()
        self.last = transfer
        now = time.monotonic()
        if self.enabled and (now - self.drawn >= REDRAW_SECONDS or transfer.done == transfer.total):
            self.drawn = now
            self.stream.write(f"\r{self.describe(transfer)}\x1b[K")
            self.stream.flush()

    def describe(self, transfer: Transfer) -> str:
        """``name  120.0/253.1 MB  15.2 MB/s  ETA 9s``."""
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = (transfer.done - transfer.resumed_from) / elapsed
        left = (transfer.total - transfer.done) / rate if rate > 0 else None
        eta = f"ETA {left:.0f}s" if left is not None else "ETA ?"
        return (
            f"{transfer.name}  {transfer.done / 1e6:.1f}/{transfer.total / 1e6:.1f} MB"
            f"  {rate / 1e6:.1f} MB/s  {eta}"
        )

    def end(self) -> None:
        """Leave the line drawn and move on."""
        if self.enabled and self.last is not None:
            self.stream.write("\n")
            self.stream.flush()


class _UsageError(Exception):
    """The command line asks for something that cannot be pulled (exit 2)."""


def pull(args: argparse.Namespace) -> int:
    """Pull a model; with ``--profile`` append a profile for it to models.conf."""
    from llamadash.hub.download import PullInterrupted
    from llamadash.hub.pull import check_disk, for_profile_model, plan, run
    from llamadash.hub.remote import HubError, connect

    profiles, settings, _ = read_config_lenient(args)
    try:
        ref, for_profile = _what_to_pull(args, profiles)
    except _UsageError as exc:
        return fail(f"error: {exc}", EXIT_USAGE)
    progress = ProgressLine(sys.stderr, sys.stderr.isatty() and not args.json)
    try:
        fit_bytes = _budget(settings) if args.fit else None
        hub = connect()
        chosen = plan(
            hub, ref, settings.models_dir, auxiliary=args.include_aux, fit_bytes=fit_bytes
        )
        if for_profile is not None:
            chosen = for_profile_model(chosen, for_profile.model_path(settings.models_dir))
        check_disk(chosen)
        started = time.monotonic()
        missing = chosen.missing_bytes
        run(hub, chosen, progress)
    except PullInterrupted as exc:
        progress.end()
        return fail(
            f"interrupted: kept {exc.done / 1e6:.1f} of {exc.total / 1e6:.1f} MB in"
            f" {exc.partial}; run the same pull again to continue from there",
            EXIT_INTERRUPTED,
        )
    except HubError as exc:
        progress.end()
        return fail(f"error: {exc}", EXIT_FAILED)
    except OSError as exc:  # the disk: full, read-only, a file where a folder should be
        progress.end()
        return fail(
            f"error: cannot write {exc.filename or settings.models_dir}: {exc.strerror or exc}"
            " (a partial download is kept; run the pull again once fixed)",
            EXIT_FAILED,
        )
    progress.end()
    seconds = time.monotonic() - started
    profile_id = (
        _add_profile(args, chosen, settings.models_dir) if args.profile is not None else None
    )
    if isinstance(profile_id, int):
        return profile_id
    _report(args, chosen, missing, seconds, profile_id)
    return 0


def _what_to_pull(
    args: argparse.Namespace, profiles: ProfileSet
) -> tuple[ModelRef, Profile | None]:
    """The reference asked for, or the ``hf`` source of the profile named instead.

    Raises:
        _UsageError: not a reference, a profile without a source, --fit with a quant.
    """
    from llamadash.core.model_ref import BadReferenceError, parse_ref

    for_profile = profiles.get(args.ref) if "/" not in args.ref else None
    if for_profile is not None and not for_profile.hf:
        raise _UsageError(
            f"profile [{for_profile.id}] names no source: add one with"
            f" llamadash profile set {for_profile.id} hf=USER/REPO:QUANT"
        )
    if for_profile is not None and args.profile is not None:
        raise _UsageError("--profile adds a profile; this one exists")
    try:
        ref = parse_ref(for_profile.hf if for_profile else args.ref)
    except BadReferenceError as exc:
        raise _UsageError(str(exc)) from None
    if args.fit and ref.quant:
        raise _UsageError(f"--fit chooses the quant itself; drop :{ref.quant}")
    return ref, for_profile


def _report(
    args: argparse.Namespace, chosen: PullPlan, missing: int, seconds: float, profile: str | None
) -> None:
    """What was pulled, as JSON or one line (and how to start it when a profile was added)."""
    if args.json:
        emit_json(
            {
                "repo": chosen.repo,
                "quant": chosen.choice.quant,
                "path": str(chosen.model),
                "files": [str(chosen.target(f)) for f in chosen.choice.files],
                "size": chosen.choice.size,
                "downloaded": missing,
                "seconds": round(seconds, 3),
                "profile": profile,
            }
        )
        return
    fetched = f"{missing / 1e6:.1f} MB in {seconds:.1f}s" if missing else "already here"
    print(f"{chosen.repo} {chosen.choice.quant} → {chosen.model} ({fetched})")
    if profile:
        print(f"profile [{profile}] added to {args.models_conf}: llamadash switch {profile}")


def _budget(settings: Settings) -> int:
    """The memory budget --fit fits into (memory_budget / memory_reserve, as the pool's)."""
    from llamadash.commands.common import gpu_free
    from llamadash.core.memory import memory_budget
    from llamadash.hub.remote import HubError

    try:
        budget = memory_budget(settings.memory_budget, settings.memory_reserve, gpu_free)
    except (ValueError, OSError) as exc:
        raise HubError(f"--fit: no memory budget ({exc})") from None
    print(f"--fit: budget {budget.describe()}", file=sys.stderr)
    return budget.limit


def _add_profile(args: argparse.Namespace, chosen: PullPlan, models_dir: Path) -> str | int:
    """Append the profile; its id, or an exit code when models.conf refused it."""
    from llamadash.core.conf_edit import add_section, write_checked
    from llamadash.core.inifile import ConfigError
    from llamadash.hub.pull import default_profile_id, profile_values

    path: Path = args.models_conf
    profile_id = args.profile or default_profile_id(chosen)
    try:
        values, note = profile_values(chosen, models_dir)
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        write_checked(path, add_section(text, profile_id, values))
    except (ConfigError, ValueError, OSError) as exc:
        return fail(f"error: the model is pulled, but no profile was added: {exc}", EXIT_USAGE)
    if note:
        print(f"note: [{profile_id}] {note}", file=sys.stderr)
    return profile_id
